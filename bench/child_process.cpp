#include "bench/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "lib/core/error.h"

extern char** environ;

namespace trustkey::bench {
namespace {

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    auto overridden = [&](std::string_view entry) {
        auto eq = entry.find('=');
        for (const auto& e : extra)
            if (e.compare(0, eq + 1, entry.substr(0, eq + 1)) == 0) return true;
        return false;
    };
    for (char** p = environ; p && *p; ++p)
        if (!overridden(*p)) env.emplace_back(*p);
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

} // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::vector<std::string>& extra_env,
                           std::filesystem::path log_file)
    : m_name(argv.empty() ? std::string() : argv.front()), m_log(std::move(log_file)) {
    if (argv.empty()) throw Error(Errc::invalid_argument, "no program to start");
    std::vector<std::string> env = merged_environment(extra_env);
    std::vector<char*> c_argv = c_strings(argv);
    std::vector<char*> c_env = c_strings(env);

    UniqueFd log(::open(m_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!log) throw_errno("open", errno, m_log.string());
    UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devnull) throw_errno("open", errno, "/dev/null");
    const pid_t parent = ::getpid();

    m_pid = ::fork();
    if (m_pid < 0) throw_errno("fork", errno, m_name);
    if (m_pid == 0) {
        // Child: async-signal-safe calls only.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(devnull.get(), STDIN_FILENO);
        ::dup2(log.get(), STDOUT_FILENO);
        ::dup2(log.get(), STDERR_FILENO);
        if (m_name.find('/') == std::string::npos)
            ::execvpe(c_argv[0], c_argv.data(), c_env.data());
        else
            ::execve(c_argv[0], c_argv.data(), c_env.data());
        static constexpr char kExecFailed[] = "cannot execute the program (execve failed)\n";
        [[maybe_unused]] auto n = ::write(STDERR_FILENO, kExecFailed, sizeof kExecFailed - 1);
        ::_exit(127);
    }
    ::setpgid(m_pid, m_pid);  // also from here, so the group exists before we may signal it
    m_pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, m_pid, 0)));
    if (!m_pidfd) {
        int err = errno;
        stop();
        throw_errno("pidfd_open", err, m_name);
    }
}

ChildProcess::~ChildProcess() { stop(); }

bool ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (m_reaped) return true;
    pollfd p{m_pidfd.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n < 0 && errno != EINTR) throw_errno("poll", errno, m_name);
    return n > 0;
}

int ChildProcess::wait(std::chrono::milliseconds timeout) {
    if (m_reaped) throw Error(Errc::internal, m_name + " was already reaped");
    if (!wait_exit(timeout)) {
        stop();
        throw Error(Errc::io, m_name + " did not finish within " + std::to_string(timeout.count()) + " ms");
    }
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0) {
        if (errno != EINTR) throw_errno("waitpid", errno, m_name);
    }
    m_reaped = true;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}

void ChildProcess::stop(std::chrono::milliseconds grace) noexcept {
    if (m_pid <= 0 || m_reaped) return;
    try {
        ::kill(-m_pid, SIGTERM);
        ::kill(m_pid, SIGTERM);
        if (!m_pidfd || !wait_exit(grace)) {
            ::kill(-m_pid, SIGKILL);
            ::kill(m_pid, SIGKILL);
        }
    } catch (...) {
        ::kill(-m_pid, SIGKILL);
    }
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
    // Helpers it forked (p11-kit server's per-connection children) share its group.
    ::kill(-m_pid, SIGKILL);
    m_reaped = true;
}

std::string ChildProcess::log_tail(std::size_t max_bytes) const {
    std::ifstream in(m_log, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (all.size() > max_bytes) all.erase(0, all.size() - max_bytes);
    return all;
}

void wait_until_ready(ChildProcess& child, const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                      const std::atomic<bool>& stop) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!ready()) {
        if (stop) throw Error(Errc::io, "interrupted while waiting for " + child.name());
        if (std::chrono::steady_clock::now() >= deadline)
            throw Error(Errc::io, child.name() + " was not ready after " + std::to_string(timeout.count()) +
                                      " ms; its output:\n" + child.log_tail());
        if (child.wait_exit(std::chrono::milliseconds(10)))
            throw Error(Errc::io, child.name() + " exited during startup; its output:\n" + child.log_tail());
    }
}

bool unix_socket_accepts(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = path.string();
    if (p.size() >= sizeof addr.sun_path) throw Error(Errc::invalid_argument, "socket path too long", 0, {}, p);
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket", errno);
    return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

MemoryKib read_memory(pid_t pid) {
    MemoryKib m;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        auto value = [&](std::string_view key) -> std::uint64_t {
            std::istringstream s(line.substr(key.size()));
            std::uint64_t v = 0;
            s >> v;
            return v;
        };
        if (line.rfind("VmRSS:", 0) == 0) m.rss = value("VmRSS:");
        else if (line.rfind("VmHWM:", 0) == 0) m.hwm = value("VmHWM:");
    }
    return m;
}

} // namespace trustkey::bench
