#include "lib/pinentry/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>

#include "lib/core/error.h"

extern char** environ;

namespace trustkey::pinentry {

namespace {

using Clock = std::chrono::steady_clock;

// Owner of posix_spawn's attribute and file-action objects.
struct SpawnSetup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
    SpawnSetup() {
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawnattr_init(&attr);
    }
    ~SpawnSetup() {
        ::posix_spawnattr_destroy(&attr);
        ::posix_spawn_file_actions_destroy(&actions);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::vector<std::string> merged_environment(const std::vector<std::string>& set) {
    std::vector<std::string> out;
    auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view entry(*e);
        bool replaced = false;
        for (const auto& s : set) replaced = replaced || name_of(s) == name_of(entry);
        if (!replaced) out.emplace_back(entry);
    }
    out.insert(out.end(), set.begin(), set.end());
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

} // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    if (argv.empty() || argv[0].empty())
        throw Error(Errc::invalid_argument, "no pinentry program given", 0, "pinentry");
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) throw_errno("socketpair", errno, argv[0]);
    m_socket = UniqueFd(pair[0]);
    UniqueFd child_end(pair[1]);
    // The child's end must not already be 0 or 1, where dup2 onto itself would keep
    // FD_CLOEXEC set.
    if (child_end.get() <= STDERR_FILENO) {
        const int moved = ::fcntl(child_end.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        if (moved < 0) throw_errno("fcntl", errno, argv[0]);
        child_end.reset(moved);
    }

    SpawnSetup setup;
    ::posix_spawn_file_actions_adddup2(&setup.actions, child_end.get(), STDIN_FILENO);
    ::posix_spawn_file_actions_adddup2(&setup.actions, child_end.get(), STDOUT_FILENO);
    ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
    sigset_t none;
    sigemptyset(&none);
    ::posix_spawnattr_setsigmask(&setup.attr, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM, SIGWINCH})
        sigaddset(&defaults, sig);
    ::posix_spawnattr_setsigdefault(&setup.attr, &defaults);
    ::posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> args = argv;
    std::vector<std::string> environment = merged_environment(env);
    std::vector<char*> argp = c_strings(args);
    std::vector<char*> envp = c_strings(environment);
    const int rc = argv[0].find('/') != std::string::npos
                       ? ::posix_spawn(&m_pid, argp[0], &setup.actions, &setup.attr, argp.data(), envp.data())
                       : ::posix_spawnp(&m_pid, argp[0], &setup.actions, &setup.attr, argp.data(), envp.data());
    if (rc != 0) {
        m_pid = -1;
        throw Error(Errc::io, std::string("cannot start the pinentry program: ") + std::strerror(rc),
                    static_cast<std::uint64_t>(rc), "posix_spawn", argv[0])
            .with_domain(ErrorDomain::os);
    }
    if (::fcntl(m_socket.get(), F_SETFL, ::fcntl(m_socket.get(), F_GETFL) | O_NONBLOCK) != 0)
        throw_errno("fcntl", errno, argv[0]);
}

ChildProcess::~ChildProcess() {
    if (m_pid <= 0) return;
    // End of input asks a pinentry to exit; one that does not is killed.
    m_socket.reset();
    if (!exit_status(std::chrono::milliseconds(200))) {
        ::kill(m_pid, SIGKILL);
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
}

std::optional<int> ChildProcess::exit_status(std::chrono::milliseconds wait) {
    if (m_status || m_pid <= 0) return m_status;
    const auto deadline = Clock::now() + wait;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
        if (r == m_pid) {
            m_status = status;
            return m_status;
        }
        if (r < 0 && errno == ECHILD) {  // reaped elsewhere: nothing to tell, nothing to kill
            m_pid = -1;
            return std::nullopt;
        }
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
    return "ended";
}

} // namespace trustkey::pinentry
