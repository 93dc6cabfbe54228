// Running a program as a child process in tests: argv (no shell), extra
// environment, data on stdin, stdout and stderr captured apart, bounded wait.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace trustkey::test {

struct ProcessOptions {
    std::vector<std::string> env{};  // "NAME=value" entries set (or replaced) in the child
    std::vector<std::string> unset{};  // variable names removed in the child
    std::string stdin_data{};        // written to the child's stdin, which is then closed (not a terminal)
    std::chrono::milliseconds timeout{std::chrono::seconds(120)};
};

struct ProcessResult {
    int exit_code = -1;        // -1 when killed by a signal or on timeout
    bool timed_out = false;
    std::string out;
    std::string err;
    // Number of lines in `err`.
    std::size_t err_lines() const;
};

// Runs `argv` (argv[0] looked up in PATH when it has no '/') and waits for it to end,
// killing it when the timeout passes.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A long-running child with stdout and stderr going to a file. Stopped (SIGTERM,
// then SIGKILL after a bounded wait) when the object goes.
class BackgroundProcess {
public:
    BackgroundProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                      const std::filesystem::path& log_file);
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;
    ~BackgroundProcess();

    pid_t pid() const noexcept { return m_pid; }
    // False once the child has exited (its status is then kept in exit_status()).
    bool running();
    int exit_status() const noexcept { return m_status; }
    // Sends SIGTERM and waits up to `grace` for the exit, then SIGKILL. Returns the wait status.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

private:
    pid_t m_pid = -1;
    int m_status = -1;
};

} // namespace trustkey::test
