#include "daemon/server/work_queue.h"

#include <algorithm>

namespace trustkey::server {

WorkQueue::WorkQueue(std::string name, std::size_t workers, std::size_t max_queued)
    : m_name(std::move(name)), m_max_queued(max_queued) {
    const std::size_t n = std::max<std::size_t>(1, workers);
    m_threads.reserve(n);
    try {
        for (std::size_t i = 0; i < n; ++i) m_threads.emplace_back([this] { serve(); });
    } catch (...) {
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        m_ready.notify_all();
        for (auto& t : m_threads) t.join();
        throw;
    }
}

WorkQueue::~WorkQueue() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
        m_jobs.clear();
    }
    m_ready.notify_all();
    for (auto& t : m_threads)
        if (t.joinable()) t.join();
}

bool WorkQueue::push(Job job) {
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping || m_jobs.size() >= m_max_queued) return false;
        m_jobs.push_back(std::move(job));
    }
    m_ready.notify_one();
    return true;
}

void WorkQueue::push_continuation(Job job) {
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) return;
        m_jobs.push_back(std::move(job));
    }
    m_ready.notify_one();
}

std::size_t WorkQueue::drop(std::uint64_t owner) {
    std::deque<Job> dropped;  // destroyed outside the lock
    {
        std::lock_guard lock(m_mutex);
        auto keep = std::stable_partition(m_jobs.begin(), m_jobs.end(),
                                          [owner](const Job& j) { return j.owner != owner; });
        for (auto it = keep; it != m_jobs.end(); ++it) dropped.push_back(std::move(*it));
        m_jobs.erase(keep, m_jobs.end());
    }
    return dropped.size();
}

std::size_t WorkQueue::queued() const {
    std::lock_guard lock(m_mutex);
    return m_jobs.size();
}

bool WorkQueue::try_begin_inline() {
    std::lock_guard lock(m_mutex);
    if (m_stopping || !m_jobs.empty() || m_running >= m_threads.size()) return false;
    ++m_running;
    return true;
}

void WorkQueue::end_inline() noexcept {
    bool waiting = false;
    {
        std::lock_guard lock(m_mutex);
        --m_running;
        waiting = !m_jobs.empty();
    }
    if (waiting) m_ready.notify_one();
}

void WorkQueue::serve() noexcept {
    std::unique_lock lock(m_mutex);
    for (;;) {
        // A worker whose place the loop holds (try_begin_inline) waits for it to end.
        m_ready.wait(lock, [this] { return m_stopping || (!m_jobs.empty() && m_running < m_threads.size()); });
        if (m_stopping) return;
        Job job = std::move(m_jobs.front());
        m_jobs.pop_front();
        ++m_running;
        lock.unlock();
        if (job.run) job.run();
        job = Job{};  // what the job held goes before the next one is taken
        lock.lock();
        --m_running;
    }
}

} // namespace trustkey::server
