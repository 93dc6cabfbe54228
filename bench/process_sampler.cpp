#include "bench/process_sampler.h"

#include <filesystem>
#include <string>
#include <system_error>

#include "bench/child_process.h"

namespace trustkey::bench {

std::size_t count_threads(pid_t pid) {
    std::error_code ec;
    std::size_t n = 0;
    for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec), end; !ec && it != end;
         it.increment(ec))
        ++n;
    return n;
}

ProcessSampler::ProcessSampler(pid_t pid, std::chrono::milliseconds interval)
    : m_pid(pid), m_interval(interval), m_thread([this] { run(); }) {}

ProcessSampler::~ProcessSampler() { stop(); }

ProcessSampler::Peak ProcessSampler::stop() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable()) m_thread.join();
    return m_peak;
}

void ProcessSampler::run() {
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
        lock.unlock();
        const std::uint64_t rss = read_memory(m_pid).rss;
        const std::size_t threads = count_threads(m_pid);
        lock.lock();
        if (rss > m_peak.rss_kib) m_peak.rss_kib = rss;
        if (threads > m_peak.threads) m_peak.threads = threads;
        m_wake.wait_for(lock, m_interval, [this] { return m_stopping; });
    }
}

} // namespace trustkey::bench
