// The pinentry program as a child process: its stdin and stdout are one end of a
// socket pair (so a write to a pinentry that has gone fails with EPIPE instead of
// raising SIGPIPE), its other descriptors are closed, its signal mask is cleared and
// its environment is ours with given variables set. The owner closes the socket
// when it goes, gives the child a short grace to exit, then kills and reaps it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/unique_fd.h"

namespace trustkey::pinentry {

class ChildProcess {
public:
    // Starts `argv` (argv[0] looked up in PATH when it has no '/'), with `env`
    // ("NAME=value") set or replaced in the inherited environment. Throws Error(io)
    // when the program cannot be started (the errno of the failed exec kept).
    ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env);
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    pid_t pid() const noexcept { return m_pid; }
    // Our end of the child's stdin/stdout (non-blocking).
    int fd() const noexcept { return m_socket.get(); }
    // The wait status once the child has ended, waiting up to `wait` for it; nullopt
    // while it runs.
    std::optional<int> exit_status(std::chrono::milliseconds wait);

private:
    UniqueFd m_socket;
    pid_t m_pid = -1;
    std::optional<int> m_status;
};

// "exited with status N" / "was killed by signal N" for a wait status.
std::string describe_wait_status(int status);

} // namespace trustkey::pinentry
