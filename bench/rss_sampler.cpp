#include "bench/rss_sampler.h"

#include "bench/child_process.h"

namespace trustkey::bench {

RssSampler::RssSampler(pid_t pid, std::chrono::milliseconds interval)
    : m_pid(pid), m_interval(interval), m_thread([this] { run(); }) {}

RssSampler::~RssSampler() { stop(); }

std::uint64_t RssSampler::stop() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable()) m_thread.join();
    return m_max_kib;
}

void RssSampler::run() {
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
        lock.unlock();
        const std::uint64_t rss = read_memory(m_pid).rss;
        lock.lock();
        if (rss > m_max_kib) m_max_kib = rss;
        m_wake.wait_for(lock, m_interval, [this] { return m_stopping; });
    }
}

} // namespace trustkey::bench
