#include "bench/process_sampler.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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

double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return 0;
    // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
    const auto close = line.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(line.substr(close + 2));
    std::string skip;
    for (int field = 3; field < 14; ++field) fields >> skip;
    unsigned long long utime = 0, stime = 0;
    if (!(fields >> utime >> stime)) return 0;
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
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
