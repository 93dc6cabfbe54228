#include "tests/daemon/server/trustkeyd_process.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef TRUSTKEYD_PATH
#error "TRUSTKEYD_PATH must point at the trustkeyd binary"
#endif

namespace trustkey::test {

namespace {
constexpr auto kPollInterval = std::chrono::milliseconds(20);
}

bool socket_accepts(const std::filesystem::path& socket) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

TrustkeydProcess::TrustkeydProcess(std::filesystem::path socket, Options options)
    : m_socket(std::move(socket)), m_log(options.log_file) {
    std::vector<std::string> argv_s{TRUSTKEYD_PATH, "-f"};
    argv_s.insert(argv_s.end(), options.args.begin(), options.args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);

    m_pid = ::fork();
    if (m_pid < 0) throw std::runtime_error("fork failed");
    if (m_pid == 0) {
        for (const auto& [k, v] : options.env) ::setenv(k.c_str(), v.c_str(), 1);
        if (!m_log.empty()) {
            const int fd = ::open(m_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (fd >= 0) ::dup2(fd, STDERR_FILENO);
        }
        if (options.run_as) {
            const gid_t gid = *options.run_as;
            if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
                ::setresuid(*options.run_as, *options.run_as, *options.run_as) != 0)
                ::_exit(126);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
}

TrustkeydProcess::~TrustkeydProcess() {
    if (m_pid > 0 && !m_status) {
        ::kill(m_pid, SIGKILL);
        int st = 0;
        ::waitpid(m_pid, &st, 0);
    }
}

bool TrustkeydProcess::running() {
    if (m_status) return false;
    int st = 0;
    const pid_t r = ::waitpid(m_pid, &st, WNOHANG);
    if (r == m_pid) {
        m_status = st;
        return false;
    }
    return true;
}

bool TrustkeydProcess::wait_ready(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!running()) return false;
        if (socket_accepts(m_socket)) return true;
        std::this_thread::sleep_for(kPollInterval);
    }
    return false;
}

int TrustkeydProcess::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) return -2;
        std::this_thread::sleep_for(kPollInterval);
    }
    return WIFEXITED(*m_status) ? WEXITSTATUS(*m_status) : -1;
}

int TrustkeydProcess::stop(std::chrono::milliseconds timeout) {
    if (running()) ::kill(m_pid, SIGTERM);
    return wait_exit(timeout);
}

std::string TrustkeydProcess::log() const {
    std::ifstream in(m_log);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace trustkey::test
