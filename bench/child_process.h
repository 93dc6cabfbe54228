// A program started by the benchmark, in its own process group, with its output
// in a log file. It is stopped (SIGTERM, then SIGKILL) and reaped on destruction,
// and it gets SIGKILL if the benchmark dies first.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/core/unique_fd.h"

namespace trustkey::bench {

class ChildProcess {
public:
    // argv[0] is the program (looked up in PATH when it has no slash); `extra_env`
    // holds "NAME=value" entries added to (or replacing those of) this environment.
    ChildProcess(std::vector<std::string> argv, const std::vector<std::string>& extra_env,
                 std::filesystem::path log_file);
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    pid_t pid() const noexcept { return m_pid; }
    const std::string& name() const noexcept { return m_name; }

    // Waits at most `timeout` for the process to exit; true when it has exited.
    bool wait_exit(std::chrono::milliseconds timeout);
    // Waits at most `timeout` for it to exit on its own and reaps it; returns the exit
    // code (128 + signal number when killed). Throws Errc::io on timeout (it is then killed).
    int wait(std::chrono::milliseconds timeout);
    // Sends SIGTERM to the group, waits up to `grace`, then SIGKILL; reaps it. Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5)) noexcept;

    // The last `max_bytes` of its output, for error messages.
    std::string log_tail(std::size_t max_bytes = 2000) const;

private:
    std::string m_name;
    std::filesystem::path m_log;
    pid_t m_pid = -1;
    UniqueFd m_pidfd;
    bool m_reaped = false;
};

// Calls `ready` until it returns true, waiting up to 10 ms for the child to exit between
// tries. Throws Errc::io when the child exits, `timeout` passes or `stop` is set.
void wait_until_ready(ChildProcess& child, const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                      const std::atomic<bool>& stop);

// True when something accepts connections on this Unix socket path.
bool unix_socket_accepts(const std::filesystem::path& path);

// Resident set figures of a live process, from /proc/PID/status, in KiB (0 when unreadable).
struct MemoryKib {
    std::uint64_t rss = 0;  // VmRSS
    std::uint64_t hwm = 0;  // VmHWM: peak resident set so far
};
MemoryKib read_memory(pid_t pid);

} // namespace trustkey::bench
