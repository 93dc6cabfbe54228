// Runs the real trustkeyd binary in the foreground for a test, waits until its
// socket accepts (bounded polling), and stops it with SIGTERM.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace trustkey::test {

class TrustkeydProcess {
public:
    struct Options {
        std::vector<std::string> args;                          // after "trustkeyd -f"
        std::map<std::string, std::string> env;                 // set in the child
        std::optional<uid_t> run_as;                            // setresuid/setresgid in the child
        std::filesystem::path log_file;                         // stderr of the daemon
    };

    // Starts the daemon; `socket` is where it is expected to listen.
    TrustkeydProcess(std::filesystem::path socket, Options options);
    TrustkeydProcess(const TrustkeydProcess&) = delete;
    TrustkeydProcess& operator=(const TrustkeydProcess&) = delete;
    // Kills the daemon if a test left it running.
    ~TrustkeydProcess();

    // True once the socket accepts within `timeout`; false if it did not or the process exited.
    bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // Exit code once it has ended within `timeout` (-1: killed by a signal, -2: still running).
    int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // SIGTERM, then wait_exit().
    int stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    bool running();
    pid_t pid() const noexcept { return m_pid; }
    std::string log() const;

private:
    std::filesystem::path m_socket;
    std::filesystem::path m_log;
    pid_t m_pid = -1;
    std::optional<int> m_status;
};

// True when a connection to `socket` succeeds now.
bool socket_accepts(const std::filesystem::path& socket);

} // namespace trustkey::test
