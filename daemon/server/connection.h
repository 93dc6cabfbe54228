// One client connection, a small state machine on the daemon's event loop: reads
// what the client sent into a bounded buffer (wiped: it may hold PINs or keys),
// takes one frame at a time from it (its length checked before it is used), runs
// that request (Hello and Stop on the loop, the rest through the Scheduler, at most
// one at a time so replies go out in request order) and writes the reply through a
// bounded output buffer. Pipelined frames wait in the input buffer; a full buffer
// stops reading. Ends on EOF, a framing error, a deadline (idle, a started frame,
// a reply the client does not read), a vanished client or the daemon's stop.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/core/rate_limited_log.h"
#include "daemon/server/sd_event_handle.h"
#include "lib/core/secure_bytes.h"
#include "lib/core/unique_fd.h"
#include "daemon/server/caller.h"
#include "daemon/server/dispatcher.h"
#include "daemon/server/reply_observer.h"
#include "daemon/server/scheduler.h"
#include "daemon/server/session.h"

namespace trustkey::server {

class Connection {
public:
    struct Options {
        std::size_t max_frame = proto::kDefaultMaxFrame;
        std::chrono::milliseconds frame_timeout{std::chrono::seconds(30)};  // a started frame, a blocked reply
        std::chrono::milliseconds idle_timeout{std::chrono::seconds(600)};  // 0: never
        ReplyObserver* observer = nullptr;  // told of each reply on the loop; may be null
    };
    // Repeated warnings of all connections, each limited to one line per interval.
    struct Warnings {
        RateLimit frame_timeout{std::chrono::seconds(1)};
        RateLimit idle{std::chrono::seconds(1)};
        RateLimit reply_timeout{std::chrono::seconds(1)};
        RateLimit bad_frame{std::chrono::seconds(1)};
        RateLimit dropped{std::chrono::seconds(1)};
    };
    // Called once when the connection has ended (its socket is closed by then).
    using Closed = std::function<void(Connection&)>;

    Connection(sd_event* loop, UniqueFd fd, std::uint64_t id, Caller caller, Dispatcher& dispatcher,
               Scheduler& scheduler, Options options, Warnings& warnings, Closed closed);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    std::uint64_t id() const noexcept { return m_id; }
    bool open() const noexcept { return static_cast<bool>(m_fd); }
    // The reply of the request handed to the Scheduler.
    void complete(Completion completion);
    // Ends the connection now (the daemon stops).
    void shut_down() { close(false); }

private:
    static int on_io(sd_event_source* source, int fd, std::uint32_t revents, void* self) noexcept;
    static int on_timer(sd_event_source* source, std::uint64_t usec, void* self) noexcept;

    // Reads what the socket holds; `peer_shut_down` when the event said the client shut down
    // its sending side (EPOLLRDHUP), so the end of file must be read now.
    void read_some(bool peer_shut_down);
    // Starts buffered requests while none runs and the output has room.
    void advance();
    void start(std::span<const std::uint8_t> body);
    void append_reply(const pb::Response& response);
    void write_some();
    void finish_if_done();
    void rearm();
    // Complete frames still in the input buffer.
    std::size_t buffered_requests() const noexcept;
    void compact(std::size_t consumed) noexcept;
    void grow(std::size_t size);
    // `client_gone`: what was queued or buffered for it is dropped and counted.
    void close(bool client_gone);
    std::string who() const;

    using Clock = std::chrono::steady_clock;
    // A reply waiting to be written past this size stops new requests from starting.
    static constexpr std::size_t kOutputHigh = 64 * 1024;
    static constexpr std::size_t kInitialBuffer = 16 * 1024;

    sd_event* m_loop;
    UniqueFd m_fd;
    std::uint64_t m_id;
    Caller m_caller;
    Dispatcher& m_dispatcher;
    Scheduler& m_scheduler;
    Options m_options;
    Warnings& m_warnings;
    Closed m_closed;
    UniqueSdEventSource m_io;
    UniqueSdEventSource m_timer;
    Session m_session;
    std::vector<std::string> m_digest_prefixes;  // of the running Sign or SignBatch, for the observer
    SecureBytes m_in;
    std::size_t m_in_len = 0;
    std::vector<std::uint8_t> m_out;
    std::size_t m_out_pos = 0;
    bool m_in_flight = false;
    bool m_read_closed = false;   // the client shut down its sending side
    bool m_unread = false;        // the last read stopped at a full buffer, not at an empty socket
    std::uint32_t m_io_events = EPOLLIN | EPOLLET;  // what the loop watches the socket for
    std::optional<Clock::time_point> m_timer_at;    // when the deadline timer fires, if armed
    Clock::time_point m_frame_started;   // of the partial frame at the head of m_in
    Clock::time_point m_last_activity;
    Clock::time_point m_write_waiting;   // since when a reply waits for the client to read
};

} // namespace trustkey::server
