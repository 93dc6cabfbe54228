#include "tests/tools/trustkey/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "daemon/core/unique_fd.h"

extern char** environ;

namespace trustkey::test {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> child_environment(const std::vector<std::string>& set, const std::vector<std::string>& unset) {
    auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
    std::vector<std::string> out;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        const std::string name = name_of(entry);
        const bool replaced = std::any_of(set.begin(), set.end(), [&](const auto& s) { return name_of(s) == name; });
        const bool removed = std::find(unset.begin(), unset.end(), name) != unset.end();
        if (!replaced && !removed) out.push_back(entry);
    }
    out.insert(out.end(), set.begin(), set.end());
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
}

// In the child after fork: only async-signal-safe calls, then exec.
[[noreturn]] void exec_child(std::vector<char*>& argv, std::vector<char*>& envp, int in, int out, int err) {
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    environ = envp.data();
    ::execvp(argv[0], argv.data());
    static constexpr char kMsg[] = "exec failed\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    ::_exit(127);
}

int decode_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

} // namespace

std::size_t ProcessResult::err_lines() const {
    auto n = static_cast<std::size_t>(std::count(err.begin(), err.end(), '\n'));
    if (!err.empty() && err.back() != '\n') ++n;
    return n;
}

ProcessResult run_process(const std::vector<std::string>& argv_in, const ProcessOptions& options) {
    std::vector<std::string> argv_copy = argv_in;
    std::vector<std::string> env = child_environment(options.env, options.unset);
    auto argv = c_strings(argv_copy);
    auto envp = c_strings(env);

    UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;
    make_pipe(in_r, in_w);
    make_pipe(out_r, out_w);
    make_pipe(err_r, err_w);

    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) exec_child(argv, envp, in_r.get(), out_w.get(), err_w.get());
    in_r.reset();
    out_w.reset();
    err_w.reset();

    ProcessResult result;
    std::string_view pending_in = options.stdin_data;
    if (pending_in.empty()) in_w.reset();
    else ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
    ::signal(SIGPIPE, SIG_IGN);

    const auto deadline = Clock::now() + options.timeout;
    while (out_r || err_r || in_w) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            result.timed_out = true;
            break;
        }
        pollfd fds[3] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}, {in_w.get(), POLLOUT, 0}};
        const int n = ::poll(fds, 3, static_cast<int>(left));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        UniqueFd* readers[2] = {&out_r, &err_r};
        std::string* sinks[2] = {&result.out, &result.err};
        for (int i = 0; i < 2; ++i) {
            if (fds[i].revents == 0) continue;
            char buf[8192];
            const ssize_t got = ::read(readers[i]->get(), buf, sizeof buf);
            if (got > 0) sinks[i]->append(buf, static_cast<std::size_t>(got));
            else if (got == 0 || errno != EINTR) readers[i]->reset();
        }
        if (fds[2].revents != 0) {
            const ssize_t put = ::write(in_w.get(), pending_in.data(), pending_in.size());
            if (put > 0) pending_in.remove_prefix(static_cast<std::size_t>(put));
            if ((put < 0 && errno != EAGAIN && errno != EINTR) || pending_in.empty()) in_w.reset();
        }
    }

    int status = 0;
    if (result.timed_out) ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = result.timed_out ? -1 : decode_status(status);
    return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv_in, const std::vector<std::string>& env_in,
                                     const std::filesystem::path& log_file) {
    std::vector<std::string> argv_copy = argv_in;
    // SOFTHSM2_CONF and TRUSTKEY_SOCK reach the child only when env_in sets them.
    std::vector<std::string> env = child_environment(env_in, {"TRUSTKEY_SOCK", "SOFTHSM2_CONF"});
    auto argv = c_strings(argv_copy);
    auto envp = c_strings(env);

    UniqueFd log(::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!log || !null) throw std::runtime_error("cannot open " + log_file.string() + " or /dev/null");
    m_pid = ::fork();
    if (m_pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (m_pid == 0) exec_child(argv, envp, null.get(), log.get(), log.get());
}

BackgroundProcess::~BackgroundProcess() { stop(); }

bool BackgroundProcess::running() {
    if (m_pid < 0) return false;
    int status = 0;
    const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
    if (r == m_pid) {
        m_status = status;
        m_pid = -1;
        return false;
    }
    return true;
}

int BackgroundProcess::stop(std::chrono::milliseconds grace) {
    if (!running()) return m_status;
    // A pidfd becomes readable when the child exits: wait for that event, bounded by `grace`.
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, m_pid, 0)));
    ::kill(m_pid, SIGTERM);
    if (pidfd) {
        pollfd p{pidfd.get(), POLLIN, 0};
        const auto deadline = Clock::now() + grace;
        for (auto left = grace; left.count() > 0;
             left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())) {
            const int n = ::poll(&p, 1, static_cast<int>(left.count()));
            if (n != 0 && !(n < 0 && errno == EINTR)) break;
        }
    }
    if (!running()) return m_status;
    ::kill(m_pid, SIGKILL);
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
    m_status = status;
    m_pid = -1;
    return m_status;
}

} // namespace trustkey::test
