// Where requests run: one FIFO work queue per backend, served by as many workers as
// the backend has sessions (a TPM: one), and a small general queue for requests
// bound to no backend (ListKeys, GetStatus, a reference the caches cannot resolve).
// A connection has at most one request here at a time, so each FIFO takes turns
// between connections; a SignBatch runs in chunks, each queued at the tail when the
// one before ends, so other clients' requests run in between. Finished requests
// come back as Completions, taken by the event loop after `wake` is called.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "lib/backend/key_ring.h"
#include "daemon/server/caller.h"
#include "daemon/server/dispatcher.h"
#include "daemon/server/session.h"
#include "daemon/server/work_queue.h"

namespace trustkey::server {

struct Completion {
    std::uint64_t connection = 0;
    pb::Response response;
    Session session;  // the connection's session as the request left it
};

class Scheduler {
public:
    struct Options {
        std::size_t max_queued = 1024;   // per queue; a request past it is answered STATUS_BUSY
        std::size_t batch_chunk = 8;     // SignBatch items signed per turn
        std::size_t general_workers = 2;
    };

    // Starts the workers. `wake` is called (from a worker) after a completion is posted.
    Scheduler(backend::KeyRing& ring, Dispatcher& dispatcher, Options options, std::function<void()> wake);
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;
    // Drops what is queued and joins the workers.
    ~Scheduler();

    // Queues `request` for connection `owner`. False when its queue is full (nothing queued):
    // the caller answers STATUS_BUSY.
    bool submit(std::uint64_t owner, const Caller& caller, const Session& session, pb::Request request);
    // The connection `owner` went away: its queued work is dropped (and counted), and a batch of
    // it that is running stops after its current chunk. Returns how many requests were dropped.
    std::size_t forget(std::uint64_t owner);
    // Requests dropped for other reasons (pipelined frames of a connection that went away).
    void count_dropped(std::size_t n) noexcept { m_dropped += n; }
    std::uint64_t dropped() const noexcept { return m_dropped.load(); }

    std::vector<Completion> take_completions();

private:
    struct Work;

    // The queue for `request`; a reference the caches resolve sets `key`, handed to the dispatcher.
    WorkQueue& queue_for(const pb::Request& request, std::size_t& batch_items,
                         std::optional<backend::KeyRing::Entry>& key);
    void run_whole(const std::shared_ptr<Work>& work) noexcept;
    void run_chunk(const std::shared_ptr<Work>& work, WorkQueue& queue) noexcept;
    void post(const std::shared_ptr<Work>& work) noexcept;

    backend::KeyRing& m_ring;
    Dispatcher& m_dispatcher;
    Options m_options;
    std::function<void()> m_wake;
    std::atomic<std::uint64_t> m_dropped{0};

    std::mutex m_mutex;  // m_inbox, m_running
    std::vector<Completion> m_inbox;
    std::unordered_map<std::uint64_t, std::shared_ptr<Work>> m_running;  // the request of each connection

    // Declared last: destroyed (workers joined) first.
    std::unique_ptr<WorkQueue> m_general;
    std::unordered_map<const backend::Backend*, std::unique_ptr<WorkQueue>> m_backend_queues;
};

} // namespace trustkey::server
