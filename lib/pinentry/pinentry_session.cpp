#include "lib/pinentry/pinentry_session.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>

#include "lib/core/error.h"
#include "lib/pinentry/assuan.h"
#include "lib/pinentry/child_process.h"

namespace trustkey::pinentry {

namespace {

using Clock = std::chrono::steady_clock;

std::string_view command_word(std::string_view line) { return line.substr(0, line.find(' ')); }

std::string call_name(std::string_view command) { return "pinentry " + std::string(command_word(command)); }

bool starts_with_word(std::string_view line, std::string_view word) {
    return line.starts_with(word) && (line.size() == word.size() || line[word.size()] == ' ');
}

bool is_cancel(std::uint64_t code) {
    const auto c = gpg_err_code(code);
    return c == kGpgErrCanceled || c == kGpgErrFullyCanceled || c == kGpgErrNotConfirmed;
}

} // namespace

PinentrySession::PinentrySession(PinentryOptions options) : m_options(std::move(options)) {
    std::vector<std::string> argv{m_options.program};
    argv.insert(argv.end(), m_options.args.begin(), m_options.args.end());
    m_child = std::make_unique<ChildProcess>(argv, m_options.env);
    m_reader = std::make_unique<LineReader>(m_child->fd(), m_options.program);

    // The greeting: "OK" and any text.
    try {
        for (;;) {
            const std::string_view line = m_reader->next_line(Clock::now() + m_options.reply_timeout, "pinentry greeting");
            if (line.starts_with('#') || line.empty()) continue;
            if (!starts_with_word(line, "OK"))
                throw Error(Errc::malformed, "the pinentry program does not greet as an Assuan server", 0,
                            "pinentry greeting", m_options.program)
                    .with_domain(ErrorDomain::protocol);
            break;
        }
    } catch (const Error& e) {
        if (e.errc() == Errc::io && e.code() == EPIPE) {
            if (const auto status = m_child->exit_status(std::chrono::milliseconds(500)))
                throw Error(Errc::io, "the pinentry program " + describe_wait_status(*status) + " before answering",
                            EPIPE, "pinentry greeting", m_options.program)
                    .with_domain(ErrorDomain::os);
        }
        throw;
    }

    if (!m_options.ttyname.empty()) set("OPTION", "ttyname=" + m_options.ttyname, true);
    if (!m_options.ttytype.empty()) set("OPTION", "ttytype=" + m_options.ttytype, true);
    if (!m_options.lc_ctype.empty()) set("OPTION", "lc-ctype=" + m_options.lc_ctype, true);
    if (!m_options.lc_messages.empty()) set("OPTION", "lc-messages=" + m_options.lc_messages, true);
    if (!m_options.display.empty()) set("OPTION", "display=" + m_options.display, true);
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(m_options.entry_timeout).count();
    if (seconds > 0) set("SETTIMEOUT", std::to_string(seconds), true);
}

PinentrySession::~PinentrySession() {
    if (!m_closed && !m_broken) {
        try {
            bye();
        } catch (...) {
        }
    }
}

void PinentrySession::check_usable(std::string_view call) const {
    if (m_broken || m_closed)
        throw Error(Errc::internal, "the pinentry conversation has ended", 0, std::string(call), m_options.program);
}

void PinentrySession::send_line(std::string_view line, std::string_view call, Clock::time_point deadline) {
    std::string out(line);
    out.push_back('\n');
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::send(m_child->fd(), out.data() + done, out.size() - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) {
            m_broken = true;
            if (errno == EPIPE || errno == ECONNRESET)
                throw Error(Errc::io, "the pinentry program ended before answering", EPIPE, std::string(call),
                            m_options.program)
                    .with_domain(ErrorDomain::os);
            throw_errno("send", errno, m_options.program);
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            m_broken = true;
            throw Error(Errc::io, "pinentry did not read its input in time", ETIMEDOUT, std::string(call),
                        m_options.program)
                .with_domain(ErrorDomain::os);
        }
        pollfd p{m_child->fd(), POLLOUT, 0};
        ::poll(&p, 1, static_cast<int>(left.count() + 1));
    }
}

PinentrySession::Result PinentrySession::transact(std::string_view command, std::chrono::milliseconds timeout,
                                                  LockedBytes* data) {
    const std::string call = call_name(command);
    check_usable(call);
    if (command.size() + 1 > kMaxLineLength)
        throw Error(Errc::invalid_argument,
                    "the text for pinentry is longer than the Assuan limit of " + std::to_string(kMaxLineLength) +
                        " bytes",
                    0, call, m_options.program);
    const auto deadline = Clock::now() + timeout;
    try {
        send_line(command, call, deadline);
        for (;;) {
            const std::string_view line = m_reader->next_line(deadline, call);
            if (starts_with_word(line, "OK")) return {Reply::ok, 0, {}};
            if (starts_with_word(line, "ERR")) {
                std::string_view rest = line.substr(3);
                while (rest.starts_with(' ')) rest.remove_prefix(1);
                std::uint64_t code = 0;
                const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), code);
                if (ec != std::errc{})
                    throw Error(Errc::malformed, "pinentry sent an ERR line without an error code", 0, call,
                                m_options.program)
                        .with_domain(ErrorDomain::protocol);
                std::string_view text(end, static_cast<std::size_t>(rest.data() + rest.size() - end));
                while (text.starts_with(' ')) text.remove_prefix(1);
                return {Reply::err, code, std::string(text)};
            }
            if (starts_with_word(line, "D")) {
                if (data == nullptr)
                    throw Error(Errc::malformed, "pinentry sent data where none was asked for", 0, call,
                                m_options.program)
                        .with_domain(ErrorDomain::protocol);
                percent_decode_append(line.size() > 2 ? line.substr(2) : std::string_view{}, *data);
                continue;
            }
            if (starts_with_word(line, "S") || line.starts_with('#') || line.empty()) continue;
            if (starts_with_word(line, "INQUIRE")) {
                // Nothing pinentry may ask (a quality bar's value …) is offered.
                send_line("CAN", call, deadline);
                continue;
            }
            // Not echoed: a broken program might be printing what was typed.
            throw Error(Errc::malformed,
                        "pinentry sent a line that is not an Assuan reply (" + std::to_string(line.size()) + " bytes)",
                        0, call, m_options.program)
                .with_domain(ErrorDomain::protocol);
        }
    } catch (const Error&) {
        m_broken = true;
        if (data != nullptr) data->clear();
        throw;
    }
}

void PinentrySession::set(std::string_view command, std::string_view text, bool optional) {
    std::string line(command);
    line.push_back(' ');
    line += percent_escape(text);
    const Result r = transact(line, m_options.reply_timeout, nullptr);
    if (r.reply == Reply::err && !optional)
        throw Error(Errc::io, "pinentry refused " + std::string(command) + ": " + r.text, r.code, call_name(command),
                    m_options.program)
            .with_domain(ErrorDomain::other);
}

void PinentrySession::set_title(std::string_view text) { set("SETTITLE", text, true); }
void PinentrySession::set_description(std::string_view text) { set("SETDESC", text); }
void PinentrySession::set_prompt(std::string_view text) { set("SETPROMPT", text); }
void PinentrySession::set_error(std::string_view text) { set("SETERROR", text); }
void PinentrySession::set_ok_button(std::string_view text) { set("SETOK", text, true); }
void PinentrySession::set_cancel_button(std::string_view text) { set("SETCANCEL", text, true); }

PinReply PinentrySession::get_pin() {
    PinReply reply;
    reply.pin.reserve(kMaxLineLength);  // the whole PIN in one locked allocation
    const Result r = transact("GETPIN", m_options.entry_timeout, &reply.pin);
    if (r.reply == Reply::ok) {
        reply.status = PinStatus::entered;
        return reply;
    }
    reply.pin.clear();
    if (is_cancel(r.code)) return reply;
    if (gpg_err_code(r.code) == kGpgErrTimeout)
        throw Error(Errc::io, "nobody entered the PIN in time", ETIMEDOUT, "pinentry GETPIN", m_options.program)
            .with_domain(ErrorDomain::os);
    throw Error(Errc::io, "pinentry failed to ask for the PIN: " + r.text, r.code, "pinentry GETPIN", m_options.program)
        .with_domain(ErrorDomain::other);
}

bool PinentrySession::confirm() {
    const Result r = transact("CONFIRM", m_options.entry_timeout, nullptr);
    if (r.reply == Reply::ok) return true;
    if (is_cancel(r.code)) return false;
    if (gpg_err_code(r.code) == kGpgErrTimeout)
        throw Error(Errc::io, "nobody confirmed in time", ETIMEDOUT, "pinentry CONFIRM", m_options.program)
            .with_domain(ErrorDomain::os);
    throw Error(Errc::io, "pinentry failed to ask for confirmation: " + r.text, r.code, "pinentry CONFIRM",
                m_options.program)
        .with_domain(ErrorDomain::other);
}

void PinentrySession::message() {
    const Result r = transact("MESSAGE", m_options.entry_timeout, nullptr);
    if (r.reply == Reply::err && !is_cancel(r.code) && gpg_err_code(r.code) != kGpgErrTimeout)
        throw Error(Errc::io, "pinentry failed to show the message: " + r.text, r.code, "pinentry MESSAGE",
                    m_options.program)
            .with_domain(ErrorDomain::other);
}

void PinentrySession::bye() {
    if (m_closed) return;
    transact("BYE", m_options.reply_timeout, nullptr);
    m_closed = true;
}

PinReply ask_pin(const PinentryOptions& options, const PinPrompt& prompt) {
    PinentrySession session(options);
    if (!prompt.title.empty()) session.set_title(prompt.title);
    if (!prompt.description.empty()) session.set_description(prompt.description);
    if (!prompt.prompt.empty()) session.set_prompt(prompt.prompt);
    if (!prompt.error.empty()) session.set_error(prompt.error);
    PinReply reply = session.get_pin();
    try {
        session.bye();
    } catch (const Error&) {
        // The PIN is in hand; a pinentry that leaves untidily does not lose it.
    }
    return reply;
}

} // namespace trustkey::pinentry
