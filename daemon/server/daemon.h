// The trustkey daemon: built from a Config, it owns the key ring, the
// listening socket and one thread per connection. run() serves until SIGTERM,
// SIGINT, SIGHUP (as ssh-agent: stop cleanly), a Stop request or request_stop().
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <optional>
#include <thread>

#include "lib/backend/key_ring.h"
#include "daemon/config/config.h"
#include "lib/core/unique_fd.h"
#include "daemon/server/connection.h"
#include "daemon/server/dispatcher.h"
#include "daemon/server/listener.h"

namespace trustkey::server {

class Daemon {
public:
    // Opens the socket (refusing to start over a live daemon) and then the backends.
    // Throws trustkey::Error on any start-up failure.
    Daemon(const config::Config& config, const std::filesystem::path& socket_path);
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;
    ~Daemon();

    const std::filesystem::path& socket_path() const noexcept { return m_socket_path; }

    // Serves until SIGTERM, SIGINT or SIGHUP (the caller blocks them in every thread first, see
    // block_stop_signals()), a Stop request or request_stop(). Then stops accepting, shuts
    // down every connection, joins the threads and removes the socket. Logs the cause.
    void run();
    // Thread-safe and async-signal-safe.
    void request_stop() noexcept;
    // For a Stop request from `caller`: logged as the cause.
    void request_stop(const Caller& caller);

    std::size_t active_connections() const noexcept { return m_active.load(); }

    // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and threads it starts later) so they
    // reach run()'s signalfd; ignores SIGPIPE.
    static void block_stop_signals();

private:
    struct Slot {
        UniqueFd fd;
        std::thread thread;
        std::atomic<bool> done{false};
    };

    void accept_one();
    void reap_finished();
    void shut_down_connections();

    std::filesystem::path m_socket_path;
    std::size_t m_max_connections;
    bool m_allow_root;
    Connection::Options m_connection_options;
    std::optional<Listener> m_listener;
    backend::KeyRing m_ring;
    std::unique_ptr<Dispatcher> m_dispatcher;
    UniqueFd m_wake;      // eventfd for request_stop()
    UniqueFd m_finished;  // eventfd a connection thread signals when it ends, so the loop reaps it
    std::list<std::unique_ptr<Slot>> m_slots;
    std::atomic<std::size_t> m_active{0};
    std::mutex m_stop_mutex;  // m_stop_reason
    std::string m_stop_reason;
};

} // namespace trustkey::server
