#include "tools/trustkey/pin_prompt.h"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "lib/core/unique_fd.h"
#include "tools/trustkey/failure.h"

namespace trustkey::tools {

namespace {

volatile sig_atomic_t g_interrupted = 0;

extern "C" void note_interrupt(int) { g_interrupted = 1; }

// Turns terminal echo off and routes the usual terminating signals to a flag, so
// read() returns EINTR and the terminal is restored before the process ends.
class EchoOff {
public:
    explicit EchoOff(int fd) : m_fd(fd) {
        if (::tcgetattr(fd, &m_saved) == 0) {
            termios quiet = m_saved;
            quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            quiet.c_lflag |= ECHONL;
            m_restore = ::tcsetattr(fd, TCSANOW, &quiet) == 0;  // keep typed-ahead input
        }
        struct sigaction sa {};
        sa.sa_handler = note_interrupt;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: read() must return
        for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &m_old[i]);
    }
    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;
    ~EchoOff() {
        if (m_restore) ::tcsetattr(m_fd, TCSANOW, &m_saved);
        for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &m_old[i], nullptr);
    }

private:
    static constexpr std::array<int, 4> kSignals{SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    int m_fd;
    termios m_saved{};
    bool m_restore = false;
    std::array<struct sigaction, kSignals.size()> m_old{};
};

// Reads one line from `fd` byte by byte (so nothing after it is consumed). `no_input` is
// the error for an input that ends before any byte (a default names `source`).
SecureBytes read_line(int fd, std::string_view source, const std::string& no_input = {}) {
    SecureBytes line;
    line.reserve(kMaxSecretLength);  // no reallocation: no stray copies of the secret
    for (;;) {
        char c = 0;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) {
            if (g_interrupted) throw Failure::failed("interrupted");
            continue;
        }
        if (n < 0) throw Failure::failed(fmt::format("cannot read from {}: {}", source, std::strerror(errno)));
        if (n == 0) {
            if (line.empty())
                throw Failure::failed(no_input.empty() ? fmt::format("nothing to read on {}", source) : no_input);
            break;
        }
        if (c == '\n') break;
        if (line.size() >= kMaxSecretLength)
            throw Failure::failed(fmt::format("input on {} is longer than {} bytes", source, kMaxSecretLength));
        line.push_back(static_cast<std::uint8_t>(c));
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

UniqueFd open_tty() {
    UniqueFd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
    if (!tty) throw Failure::failed(fmt::format("cannot open the terminal: {}", std::strerror(errno)));
    return tty;
}

} // namespace

bool stdin_is_terminal() noexcept { return ::isatty(STDIN_FILENO) == 1; }

std::optional<SecureBytes> secret_from_env(std::initializer_list<const char*> names) {
    for (const char* name : names) {
        const char* v = std::getenv(name);
        if (v != nullptr && *v != '\0') return secure_from(v);
    }
    return std::nullopt;
}

SecureBytes read_secret(const std::string& prompt) { return read_secret(prompt, {}); }

SecureBytes read_secret(const std::string& prompt, const std::string& no_input) {
    if (!stdin_is_terminal()) return read_line(STDIN_FILENO, "standard input", no_input);
    auto tty = open_tty();
    g_interrupted = 0;
    SecureBytes secret;
    {
        EchoOff quiet(tty.get());
        write_all(tty.get(), prompt);
        secret = read_line(tty.get(), "the terminal");
    }
    return secret;
}

bool ask_yes_no(const std::string& question) {
    auto tty = open_tty();
    write_all(tty.get(), question);
    g_interrupted = 0;
    SecureBytes answer;
    try {
        answer = read_line(tty.get(), "the terminal");
    } catch (const Failure&) {
        return false;
    }
    return !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
}

} // namespace trustkey::tools
