// A FIFO of jobs served by a fixed number of worker threads: one per backend
// (as many workers as the backend has sessions) and one general queue. Each job
// belongs to a connection; a connection that closes has its queued jobs dropped.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace trustkey::server {

class WorkQueue {
public:
    struct Job {
        std::uint64_t owner = 0;      // the connection the job is for
        std::function<void()> run;    // never throws
    };

    // Starts `workers` threads (at least one).
    WorkQueue(std::string name, std::size_t workers, std::size_t max_queued);
    WorkQueue(const WorkQueue&) = delete;
    WorkQueue& operator=(const WorkQueue&) = delete;
    // Drops what is queued and joins the workers once their current jobs end.
    ~WorkQueue();

    const std::string& name() const noexcept { return m_name; }
    std::size_t workers() const noexcept { return m_threads.size(); }

    // Queues a new request's job at the tail; false (nothing queued) when max_queued jobs wait.
    bool push(Job job);
    // Queues the continuation of a request already accepted (the next chunk of a batch) at the
    // tail, whatever the queue holds.
    void push_continuation(Job job);
    // Removes the queued jobs of `owner`; returns how many.
    std::size_t drop(std::uint64_t owner);
    std::size_t queued() const;

    // The caller (the event loop) may run a short job itself, in place of a worker: true when
    // nothing waits in the queue and a worker is idle, whose place it then holds until
    // end_inline(). Work queued meanwhile is not overtaken, and the backend is never asked by
    // more threads than it has workers.
    bool try_begin_inline();
    void end_inline() noexcept;

private:
    void serve() noexcept;

    std::string m_name;
    std::size_t m_max_queued;
    mutable std::mutex m_mutex;
    std::condition_variable m_ready;
    std::deque<Job> m_jobs;
    std::size_t m_running = 0;  // jobs being run, by workers or inline
    bool m_stopping = false;
    std::vector<std::thread> m_threads;
};

} // namespace trustkey::server
