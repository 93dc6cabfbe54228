#include "tools/trust/registry/credential_helper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "daemon/core/error.h"
#include "daemon/core/unique_fd.h"

extern char** environ;

namespace trustkey::registry {

namespace {

using Clock = std::chrono::steady_clock;

struct HelperRun {
    int exit_code = -1;
    std::string out;  // stdout and stderr together
};

std::pair<UniqueFd, UniqueFd> make_pipe(const std::string& program) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2", errno, program);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Runs `program get` with `input` on stdin; output capped, time bounded.
HelperRun run_helper(const std::string& program, const std::string& input, std::chrono::milliseconds timeout) {
    // stdin is a socket pair so a helper that exits without reading cannot raise
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
    std::string arg0 = program;
    std::string arg1 = "get";
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw Error(Errc::config, "cannot run credential helper " + program + ": " + std::strerror(rc),
                    static_cast<std::uint64_t>(rc), "posix_spawnp", program);
    in_read.reset();
    out_write.reset();

    // The helper reads the whole server URL before answering; it is short, so one
    // write fits the pipe buffer.
    (void)!::send(in_write.get(), input.data(), input.size(), MSG_NOSIGNAL);
    in_write.reset();

    HelperRun run;
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
        if (run.out.size() > CredentialHelper::kMaxOutput) {
            timed_out = true;  // treated as a failure below, like a hang
            break;
        }
    }
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out)
        throw Error(Errc::config, "credential helper " + program + " did not answer in time (or printed too much)",
                    0, "get", program);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
}

std::string first_line(const std::string& s) {
    std::string line = s.substr(0, s.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
}

} // namespace

CredentialHelper::CredentialHelper(std::string name, std::chrono::milliseconds timeout)
    : m_program("docker-credential-" + std::move(name)), m_timeout(timeout) {}

std::optional<Credentials> CredentialHelper::get(const std::string& server_url) const {
    HelperRun run = run_helper(m_program, server_url, m_timeout);
    if (run.exit_code == 127)
        throw Error(Errc::config, "credential helper " + m_program + " was not found in PATH", 127, "get", m_program);
    if (run.exit_code != 0) {
        const std::string msg = first_line(run.out);
        wipe(run.out);
        if (msg.find("credentials not found") != std::string::npos) return std::nullopt;
        throw Error(Errc::config,
                    "credential helper " + m_program + " failed for " + server_url + " (exit " +
                        std::to_string(run.exit_code) + "): " + msg,
                    static_cast<std::uint64_t>(run.exit_code), "get", m_program);
    }
    const auto json = nlohmann::json::parse(run.out, nullptr, false);
    wipe(run.out);
    if (!json.is_object() || !json.contains("Username") || !json["Username"].is_string() || !json.contains("Secret") ||
        !json["Secret"].is_string())
        throw Error(Errc::config,
                    "credential helper " + m_program + " printed no JSON object with Username and Secret for " +
                        server_url,
                    0, "get", m_program);
    Credentials creds;
    const std::string user = json["Username"].get<std::string>();
    std::string secret = json["Secret"].get<std::string>();
    if (user == "<token>")
        creds.identity_token = secure_from(secret);
    else {
        creds.username = user;
        creds.password = secure_from(secret);
    }
    wipe(secret);
    return creds;
}

} // namespace trustkey::registry
