// Where requests run: one FIFO work queue per backend, served by as many workers as
// the backend has sessions (a TPM: one), and a small general queue for requests
// bound to no backend (ListKeys, GetStatus, a reference the caches cannot resolve).
// A connection has at most one request here at a time, so each FIFO takes turns
// between connections; a SignBatch runs in chunks, each queued at the tail when the
// one before ends, so other clients' requests run in between. Finished requests
// come back as Completions, taken by the event loop after `wake` is called.
// A Sign that the backend makes in a few hundred microseconds (measured per key type,
// sign_cost.h) is made on the event loop's thread instead when its client is the only one
// asking, its queue is empty and one of its workers idle: handing it to a worker and its
// reply back would cost two thread wake-ups, more than the signature itself on a fast token.
#pragma once

#include <atomic>
#include <chrono>
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
#include "daemon/server/sign_cost.h"
#include "daemon/server/work_queue.h"

namespace trustkey::server {

struct Completion {
    std::uint64_t connection = 0;
    pb::Response response;
    Session session;  // the connection's session as the request left it
    // Work of the daemon's own (Scheduler::run_task): run on the loop's thread instead of a reply.
    std::function<void()> then;
};

class Scheduler {
public:
    struct Options {
        std::size_t max_queued = 1024;   // per queue; a request past it is answered STATUS_BUSY
        std::size_t batch_chunk = 8;     // SignBatch items signed per turn
        std::size_t general_workers = 2;
        // A Sign is made on the caller's thread when its backend's signatures of that key type
        // take at most this long on average; zero: never.
        std::chrono::microseconds inline_sign_limit{300};
        // … and when its client has been the only one asking for at least this long: with many
        // clients the workers sign side by side while the loop reads and writes.
        std::chrono::microseconds inline_alone_after{1000};
    };

    // What became of a submitted request.
    struct Submitted {
        enum class Outcome {
            queued,    // it runs on a worker; its reply comes back as a Completion
            busy,      // its queue is full and nothing was queued: the caller answers STATUS_BUSY
            answered,  // it was made at once on the caller's thread: `response` is its reply
        };
        Outcome outcome = Outcome::queued;
        pb::Response response;
    };

    // Starts the workers. `wake` is called (from a worker) after a completion is posted.
    Scheduler(backend::KeyRing& ring, Dispatcher& dispatcher, Options options, std::function<void()> wake);
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;
    // Drops what is queued and joins the workers.
    ~Scheduler();

    // Runs or queues `request` for connection `owner`. `session` is updated only when the request
    // was answered at once; a queued request's Completion carries the session it leaves.
    Submitted submit(std::uint64_t owner, const Caller& caller, Session& session, pb::Request request);
    // The connection `owner` went away: its queued work is dropped (and counted), and a batch of
    // it that is running stops after its current chunk. Returns how many requests were dropped.
    std::size_t forget(std::uint64_t owner);
    // Requests dropped for other reasons (pipelined frames of a connection that went away).
    void count_dropped(std::size_t n) noexcept { m_dropped += n; }
    std::uint64_t dropped() const noexcept { return m_dropped.load(); }

    std::vector<Completion> take_completions();

    // Work of the daemon's own on `backend`'s queue (the general one when it has none), as
    // `owner`'s: `task` runs on a worker — where a token may be asked — and the function it
    // returns (if any) comes back as a Completion's `then`, for the loop's thread. False
    // (nothing queued) when the queue is full, unless `must_run`: then it goes at the tail
    // whatever the queue holds. Owner 0 is no connection's: forget() never drops its work.
    bool run_task(const backend::Backend* backend, std::uint64_t owner,
                  std::function<std::function<void()>()> task, bool must_run = false);

private:
    struct Work;
    // A backend's queue and what its signatures have been seen to take.
    struct Lane {
        SignCost sign_cost;
        std::unique_ptr<WorkQueue> queue;  // declared last: its workers are joined first
    };

    // The lane of `request`'s backend, null for the general queue; a reference the caches
    // resolve sets `key`, handed to the dispatcher.
    Lane* lane_for(const pb::Request& request, std::size_t& batch_items, std::optional<backend::KeyRing::Entry>& key);
    // Makes a Sign on this thread when `lane` makes such signatures quickly and is free.
    std::optional<pb::Response> try_inline(Lane& lane, const backend::KeyRing::Entry& key, const pb::Request& request,
                                           const Caller& caller, Session& session) noexcept;
    void run_whole(const std::shared_ptr<Work>& work) noexcept;
    void run_chunk(const std::shared_ptr<Work>& work, WorkQueue& queue) noexcept;
    void post(const std::shared_ptr<Work>& work) noexcept;

    backend::KeyRing& m_ring;
    Dispatcher& m_dispatcher;
    Options m_options;
    std::function<void()> m_wake;
    // The loop's own record of who asks (submit() runs on the loop alone): the client of the
    // last request, and since when it has been the only one.
    std::uint64_t m_last_owner = 0;
    std::chrono::steady_clock::time_point m_alone_since{};
    std::atomic<std::uint64_t> m_dropped{0};

    std::mutex m_mutex;  // m_inbox, m_running
    std::vector<Completion> m_inbox;
    std::unordered_map<std::uint64_t, std::shared_ptr<Work>> m_running;  // the request of each connection

    // Declared last: destroyed (workers joined) first.
    std::unique_ptr<WorkQueue> m_general;
    std::unordered_map<const backend::Backend*, std::unique_ptr<Lane>> m_lanes;
};

} // namespace trustkey::server
