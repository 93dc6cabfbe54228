// Samples a process's VmRSS every few milliseconds on a background thread and keeps
// the largest value seen, until destroyed or stopped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace trustkey::bench {

class RssSampler {
public:
    explicit RssSampler(pid_t pid, std::chrono::milliseconds interval = std::chrono::milliseconds(5));
    RssSampler(const RssSampler&) = delete;
    RssSampler& operator=(const RssSampler&) = delete;
    ~RssSampler();

    // Stops sampling; returns the largest VmRSS seen, in KiB.
    std::uint64_t stop();

private:
    void run();

    pid_t m_pid;
    std::chrono::milliseconds m_interval;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_stopping = false;
    std::uint64_t m_max_kib = 0;
    std::thread m_thread;
};

} // namespace trustkey::bench
