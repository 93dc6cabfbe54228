// A conversation with the user's pinentry program (the Assuan protocol, as gpg-agent
// speaks it): the program is started as a child, its greeting read, the terminal and
// display options sent; then texts are set and the PIN asked for (GETPIN), a yes/no
// asked (CONFIRM) or a message shown (MESSAGE). Every reply is awaited with a
// deadline, so a pinentry that hangs costs a bounded wait; the child is killed when
// the session goes. The PIN is returned in locked, wiped memory and never logged.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/locked_bytes.h"

namespace trustkey::pinentry {

struct PinentryOptions {
    // The program: a path, or a name looked up in PATH.
    std::string program = "pinentry";
    std::vector<std::string> args{};  // more arguments for it
    // Where it asks: sent as OPTION ttyname= / ttytype= / lc-ctype= / lc-messages= /
    // display= when not empty (as gpg-agent passes GPG_TTY, TERM, LC_CTYPE, DISPLAY).
    std::string ttyname{};
    std::string ttytype{};
    std::string lc_ctype{};
    std::string lc_messages{};
    std::string display{};
    // "NAME=value" set or replaced in the environment the program inherits
    // (WAYLAND_DISPLAY, XAUTHORITY, DBUS_SESSION_BUS_ADDRESS …).
    std::vector<std::string> env{};
    // How long the program may take for a reply that needs no user (its greeting,
    // OPTION, SET…), and for one the user gives (GETPIN, CONFIRM, MESSAGE). The latter
    // is also sent as SETTIMEOUT, so the program gives up by itself.
    std::chrono::milliseconds reply_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds entry_timeout{std::chrono::minutes(2)};
};

enum class PinStatus { entered, cancelled };

struct PinReply {
    PinStatus status = PinStatus::cancelled;
    LockedBytes pin{};  // empty unless entered (and may be empty then: the user typed nothing)
};

class ChildProcess;
class LineReader;

class PinentrySession {
public:
    // Starts the program and reads its greeting. Throws Error: io when it cannot be
    // started, ends early or does not answer in time, malformed when it does not
    // speak Assuan.
    explicit PinentrySession(PinentryOptions options);
    PinentrySession(const PinentrySession&) = delete;
    PinentrySession& operator=(const PinentrySession&) = delete;
    ~PinentrySession();

    void set_title(std::string_view text);
    void set_description(std::string_view text);
    void set_prompt(std::string_view text);
    // Shown above the next prompt: why it is asked again ("wrong PIN, 2 tries left").
    void set_error(std::string_view text);
    void set_ok_button(std::string_view text);
    void set_cancel_button(std::string_view text);

    // GETPIN: the PIN typed, or cancelled when the user cancelled.
    PinReply get_pin();
    // CONFIRM: true when the user said yes; false when they said no or cancelled.
    bool confirm();
    // MESSAGE: shows the description until the user acknowledges it.
    void message();
    // BYE: ends the conversation (the destructor also does, best effort).
    void bye();

private:
    enum class Reply { ok, err };
    struct Result {
        Reply reply;
        std::uint64_t code = 0;
        std::string text;
    };
    // Sends `command` (already escaped) and reads up to its OK or ERR; D lines go to
    // `data`, which is an error when null.
    Result transact(std::string_view command, std::chrono::milliseconds timeout, LockedBytes* data);
    // A SET…/OPTION command; an ERR from the program is an error unless `optional`.
    void set(std::string_view command, std::string_view text, bool optional = false);
    void send_line(std::string_view line, std::string_view call, std::chrono::steady_clock::time_point deadline);
    void check_usable(std::string_view call) const;

    PinentryOptions m_options;
    std::unique_ptr<ChildProcess> m_child;
    std::unique_ptr<LineReader> m_reader;
    bool m_broken = false;  // a timeout or protocol error left the conversation out of step
    bool m_closed = false;
};

// What to show when asking for a PIN.
struct PinPrompt {
    std::string title{};
    std::string description{};  // which token, which key
    std::string prompt = "PIN:";
    std::string error{};        // why it is asked again; empty the first time
};

// One whole GETPIN conversation: start, set the texts, ask, say BYE.
PinReply ask_pin(const PinentryOptions& options, const PinPrompt& prompt);

} // namespace trustkey::pinentry
