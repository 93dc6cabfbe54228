// The trustkey daemon: built from a Config, it owns the key ring, the listening
// socket, one sd-event loop and the work queues (daemon/server/scheduler.h).
// The loop holds the listener, the stop signals, the eventfd of request_stop(),
// every connection (daemon/server/connection.h) with its deadlines, and the
// completions the workers post. Thread count is fixed: the loop and the workers.
// run() serves until SIGTERM, SIGINT, SIGHUP (as ssh-agent: stop cleanly), a Stop
// request or request_stop().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lib/backend/key_ring.h"
#include "lib/core/rate_limited_log.h"
#include "daemon/server/sd_event_handle.h"
#include "lib/core/unique_fd.h"
#include "daemon/config/config.h"
#include "daemon/server/connection.h"
#include "daemon/server/dispatcher.h"
#include "daemon/server/key_constraints.h"
#include "daemon/server/listener.h"
#include "daemon/server/login_lifetime.h"
#include "daemon/server/reply_observer.h"
#include "daemon/server/scheduler.h"

namespace trustkey::server {

class Daemon {
public:
    // Opens the socket (refusing to start over a live daemon) and then the backends. With
    // `inherited` (a socket from the service manager, Listener::from_service_manager()) it
    // serves that one instead, and `socket_path` only names it in the log.
    // Throws trustkey::Error on any start-up failure.
    Daemon(const config::Config& config, const std::filesystem::path& socket_path,
           std::optional<Listener> inherited = std::nullopt);
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;
    ~Daemon();

    const std::filesystem::path& socket_path() const noexcept { return m_socket_path; }

    // Serves until SIGTERM, SIGINT or SIGHUP (the caller blocks them in every thread first, see
    // block_stop_signals()), a Stop request or request_stop(). Then stops accepting, closes
    // every connection, joins the workers and removes the socket (not an inherited one, which
    // is the service manager's). Logs the cause. Tells a service manager READY=1 once serving and
    // STOPPING=1 when the stop begins (daemon/server/service_notify.h).
    void run();
    // Thread-safe and async-signal-safe.
    void request_stop() noexcept;
    // For a Stop request from `caller`: logged as the cause.
    void request_stop(const Caller& caller);

    std::size_t active_connections() const noexcept { return m_active.load(); }

    // For services beside the socket that run on the daemon's loop (daemon/dbus/): the loop,
    // the keys, an observer of the replies sent, and requests of the daemon's own, run like a
    // client's by the scheduler; `done` is called on the loop's thread with the reply (at once
    // when the scheduler answers at once), never after run() has returned.
    // The observer is set before run() (connections take it when they open; null: none) and
    // must stay until run() has returned.
    sd_event* event_loop() const noexcept { return m_event.get(); }
    backend::KeyRing& ring() noexcept { return m_ring; }
    void set_reply_observer(ReplyObserver* observer) noexcept { m_connection_options.observer = observer; }
    // Whether the daemon is locked (lock_state.h).
    bool locked() const noexcept { return m_dispatcher->lock_state().locked(); }
    void ask(pb::Request request, std::function<void(pb::Response)> done);
    // Locks the daemon as `trustkey lock` does, by a Lock of its own through ask(), and tells
    // the reply observer; a failure is logged with `cause` ("idle", "session", "sleep").
    // On the loop's thread.
    void lock_by(const std::string& cause);

    // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and threads it starts later) so they
    // reach run()'s loop; ignores SIGPIPE.
    static void block_stop_signals();
    // Raises the soft limit of open files to the hard limit (logged).
    static void raise_open_files_limit();

private:
    static int on_accept(sd_event_source* s, int fd, std::uint32_t revents, void* self) noexcept;
    static int on_signal(sd_event_source* s, const struct signalfd_siginfo* info, void* self) noexcept;
    static int on_wake(sd_event_source* s, int fd, std::uint32_t revents, void* self) noexcept;
    static int on_completions(sd_event_source* s, int fd, std::uint32_t revents, void* self) noexcept;
    static int on_accept_retry(sd_event_source* s, std::uint64_t usec, void* self) noexcept;
    static int on_idle_lock(sd_event_source* s, std::uint64_t usec, void* self) noexcept;
    static int on_token_poll(sd_event_source* s, std::uint64_t usec, void* self) noexcept;
    // Queues a presence check (Backend::check_presence) for each backend without one running.
    void check_tokens();
    // On the loop: what a presence check of `backend` found.
    void token_checked(backend::Backend* backend, const std::optional<backend::PresenceChange>& change);
    static int on_reap(sd_event_source* s, void* self) noexcept;

    void accept_pending();
    void refuse_busy(UniqueFd fd, const Caller& caller);
    // Out of descriptors: stop watching the listener until a connection closes or a short timer.
    void pause_accepting();
    void resume_accepting();
    void connection_closed(Connection& connection);
    void stop_loop(const std::string& cause);
    void shut_down_connections();

    std::filesystem::path m_socket_path;
    std::size_t m_max_connections;
    bool m_allow_root;
    Connection::Options m_connection_options;
    Connection::Warnings m_warnings;
    RateLimit m_accept_warnings{std::chrono::seconds(1)};
    RateLimit m_refused_warnings{std::chrono::seconds(1)};
    std::optional<Listener> m_listener;
    backend::KeyRing m_ring;
    KeyConstraints m_constraints;  // [[key_constraint]]
    std::unique_ptr<Dispatcher> m_dispatcher;
    UniqueFd m_wake;         // eventfd for request_stop()
    UniqueFd m_completions;  // eventfd the workers signal after posting a completion
    std::unique_ptr<Scheduler> m_scheduler;

    UniqueSdEvent m_event;
    std::vector<UniqueSdEventSource> m_sources;  // signals, wake, completions
    UniqueSdEventSource m_accept_source;
    UniqueSdEventSource m_accept_retry;
    UniqueSdEventSource m_idle_lock;  // set when idle_lock_seconds is
    std::chrono::seconds m_idle_lock_after{0};
    std::unique_ptr<LoginLifetime> m_login_lifetime;  // set when a key has a lifetime
    UniqueSdEventSource m_token_poll;  // set when token_poll_seconds is
    std::chrono::seconds m_token_poll_every{0};
    std::unordered_set<const backend::Backend*> m_presence_checks;  // queued or running
    UniqueSdEventSource m_reap;
    bool m_accept_paused = false;
    bool m_stopping = false;
    std::uint64_t m_next_id = 1;
    std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> m_connections;
    std::unordered_map<std::uint64_t, std::function<void(pb::Response)>> m_asked;  // by owner id, see ask()
    std::vector<std::unique_ptr<Connection>> m_closed;  // freed once the loop is out of their callbacks
    std::atomic<std::size_t> m_active{0};
    std::mutex m_stop_mutex;  // m_stop_reason
    std::string m_stop_reason;
};

} // namespace trustkey::server
