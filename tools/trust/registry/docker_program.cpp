#include "tools/trust/registry/docker_program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/core/error.h"
#include "lib/core/unique_fd.h"

extern char** environ;

namespace trustkey::registry {

namespace {

using Clock = std::chrono::steady_clock;

std::pair<UniqueFd, UniqueFd> make_pipe(const std::string& program) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2", errno, program);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

} // namespace

ProgramRun run_docker_program(const std::vector<std::string>& args, const std::string& input,
                              std::chrono::milliseconds timeout, std::size_t max_output, const std::string& what) {
    if (args.empty()) throw Error(Errc::invalid_argument, "no program to run for " + what, 0, "run", what);
    const std::string& program = args.front();
    // stdin is a socket pair so a program that exits without reading cannot raise
    // SIGPIPE here (send with MSG_NOSIGNAL).
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair", errno, program);
    UniqueFd in_read(sv[0]);
    UniqueFd in_write(sv[1]);
    auto [out_read, out_write] = make_pipe(program);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_read.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDERR_FILENO);
    std::vector<std::string> owned = args;
    std::vector<char*> argv;
    for (auto& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw Error(Errc::config, "cannot run " + what + ": " + std::strerror(rc), static_cast<std::uint64_t>(rc),
                    "posix_spawnp", program);
    in_read.reset();
    out_write.reset();

    // The input is short (a server URL), so one write fits the socket buffer.
    if (!input.empty()) (void)!::send(in_write.get(), input.data(), input.size(), MSG_NOSIGNAL);
    in_write.reset();

    ProgramRun run;
    const auto deadline = Clock::now() + timeout;
    bool timed_out = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{out_read.get(), POLLIN, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            timed_out = n == 0;
            break;
        }
        char buf[4096];
        const ssize_t got = ::read(out_read.get(), buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        run.out.append(buf, static_cast<std::size_t>(got));
        if (run.out.size() > max_output) {
            timed_out = true;  // treated as a failure below, like a hang
            break;
        }
    }
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out)
        throw Error(Errc::config, what + " did not answer in time (or printed too much)", 0, "run", program);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
}

} // namespace trustkey::registry
