// Samples a process's VmRSS and thread count every few milliseconds on a background
// thread and keeps the largest of each, until destroyed or stopped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace trustkey::bench {

// The entries of /proc/PID/task: the process's threads (0 when unreadable).
std::size_t count_threads(pid_t pid);

// User plus system CPU time the process has used so far, all threads, in seconds
// (from /proc/PID/stat; 0 when unreadable).
double cpu_seconds(pid_t pid);

class ProcessSampler {
public:
    explicit ProcessSampler(pid_t pid, std::chrono::milliseconds interval = std::chrono::milliseconds(5));
    ProcessSampler(const ProcessSampler&) = delete;
    ProcessSampler& operator=(const ProcessSampler&) = delete;
    ~ProcessSampler();

    struct Peak {
        std::uint64_t rss_kib = 0;  // largest VmRSS seen
        std::size_t threads = 0;    // most threads seen
    };
    // Stops sampling; returns the peaks.
    Peak stop();

private:
    void run();

    pid_t m_pid;
    std::chrono::milliseconds m_interval;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_stopping = false;
    Peak m_peak;
    std::thread m_thread;
};

} // namespace trustkey::bench
