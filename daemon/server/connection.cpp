#include "daemon/server/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <openssl/crypto.h>

#include "lib/core/error.h"
#include "lib/core/log.h"

namespace trustkey::server {

namespace {

std::uint32_t raw_length(const std::uint8_t* h) noexcept {
    return (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) | std::uint32_t{h[3]};
}

} // namespace

Connection::Connection(sd_event* loop, UniqueFd fd, std::uint64_t id, Caller caller, Dispatcher& dispatcher,
                       Scheduler& scheduler, Options options, Warnings& warnings, Closed closed)
    : m_loop(loop),
      m_fd(std::move(fd)),
      m_id(id),
      m_caller(caller),
      m_dispatcher(dispatcher),
      m_scheduler(scheduler),
      m_options(options),
      m_warnings(warnings),
      m_closed(std::move(closed)),
      m_in(kInitialBuffer, 0) {
    m_last_activity = Clock::now();
    sd_event_source* io = nullptr;
    if (const int rc = sd_event_add_io(m_loop, &io, m_fd.get(), EPOLLIN | EPOLLRDHUP | EPOLLET, &Connection::on_io, this); rc < 0)
        throw_errno("sd_event_add_io", -rc);
    m_io.reset(io);
    sd_event_source* timer = nullptr;
    if (const int rc = sd_event_add_time(m_loop, &timer, CLOCK_MONOTONIC, usec_of(Clock::now()), 10000,
                                         &Connection::on_timer, this);
        rc < 0)
        throw_errno("sd_event_add_time", -rc);
    m_timer.reset(timer);
    rearm();
    spdlog::debug("event=connection_open {}", who());
}

Connection::~Connection() {
    if (m_fd && m_in_flight) m_scheduler.forget(m_id);
}

std::string Connection::who() const {
    return fmt::format("caller_uid={} caller_pid={}", m_caller.uid, m_caller.pid);
}

int Connection::on_io(sd_event_source*, int, std::uint32_t revents, void* self) noexcept {
    auto* c = static_cast<Connection*>(self);
    try {
        if (revents & (EPOLLHUP | EPOLLERR)) {
            // The client closed its socket: nobody reads the replies of what it asked. What it
            // sent last is read only to count the requests dropped.
            if (revents & EPOLLIN) c->read_some(true);
            c->close(true);
            return 0;
        }
        if (revents & (EPOLLIN | EPOLLRDHUP)) c->read_some((revents & EPOLLRDHUP) != 0);
        if (c->m_fd) c->advance();
    } catch (const std::exception& e) {
        spdlog::error("event=connection_error {} error={}", c->who(), log::quoted(e.what()));
        c->close(true);
    }
    return 0;
}

int Connection::on_timer(sd_event_source*, std::uint64_t, void* self) noexcept {
    auto* c = static_cast<Connection*>(self);
    c->m_timer_at.reset();  // a one-shot timer is off once it fired
    try {
        const auto now = Clock::now();
        if (c->m_out_pos < c->m_out.size() && now >= c->m_write_waiting + c->m_options.frame_timeout) {
            log_limited(c->m_warnings.reply_timeout, spdlog::level::warn,
                        fmt::format("event=reply_timeout {} unread={} closing=true", c->who(),
                                    c->m_out.size() - c->m_out_pos));
            c->close(true);
            return 0;
        }
        if (c->m_in_len > 0 && c->buffered_requests() == 0 &&
            now >= c->m_frame_started + c->m_options.frame_timeout) {
            log_limited(c->m_warnings.frame_timeout, spdlog::level::warn,
                        fmt::format("event=frame_timeout buffered={} {} closing=true", c->m_in_len, c->who()));
            c->close(true);
            return 0;
        }
        if (c->m_options.idle_timeout.count() > 0 && c->m_in_len == 0 && !c->m_in_flight &&
            c->m_out_pos == c->m_out.size() && now >= c->m_last_activity + c->m_options.idle_timeout) {
            log_limited(c->m_warnings.idle, spdlog::level::info,
                        fmt::format("event=idle_timeout {} closing=true", c->who()));
            c->close(false);
            return 0;
        }
        c->rearm();
    } catch (const std::exception& e) {
        spdlog::error("event=connection_error {} error={}", c->who(), log::quoted(e.what()));
        c->close(true);
    }
    return 0;
}

void Connection::read_some(bool peer_shut_down) {
    m_unread = false;
    while (m_fd && !m_read_closed) {
        if (m_in_len == m_in.size()) {
            m_unread = true;  // the socket may hold more: no new edge will say so
            break;
        }
        const ssize_t k = ::recv(m_fd.get(), m_in.data() + m_in_len, m_in.size() - m_in_len, MSG_DONTWAIT);
        if (k > 0) {
            const auto now = Clock::now();
            if (m_in_len == 0) m_frame_started = now;
            const bool drained = static_cast<std::size_t>(k) < m_in.size() - m_in_len;
            m_in_len += static_cast<std::size_t>(k);
            m_last_activity = now;
            // A read that did not fill the buffer emptied the socket (a Unix stream socket
            // hands over all it holds, up to the buffer). What the client sends later raises a
            // new edge, so the read that would only say EAGAIN is skipped. Not when the client
            // has shut down its side: its end of file raised no edge of its own since.
            if (drained && !peer_shut_down) break;
            continue;
        }
        if (k == 0) {
            m_read_closed = true;  // the client sends no more; what it sent is still answered
            break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        spdlog::debug("event=client_gone {} errno={}", who(), errno);
        close(true);  // ECONNRESET: the client is gone
        return;
    }
}

void Connection::advance() {
    for (;;) {
        if (!m_fd) return;
        const std::size_t before = m_in_len;
        const bool was_in_flight = m_in_flight;
        while (m_fd && !m_in_flight && !m_session.stop_requested && m_out.size() - m_out_pos < kOutputHigh &&
               m_in_len >= proto::kFrameHeaderSize) {
            const std::uint8_t* h = m_in.data();
            const auto len = proto::parse_frame_header(
                std::span<const std::uint8_t, proto::kFrameHeaderSize>(h, proto::kFrameHeaderSize), m_options.max_frame);
            if (!len) {
                log_limited(m_warnings.bad_frame, spdlog::level::warn,
                            fmt::format("event=bad_frame_length length={} max={} {} closing=true", raw_length(h),
                                        m_options.max_frame, who()));
                close(false);
                return;
            }
            const std::size_t total = proto::kFrameHeaderSize + *len;
            if (m_in_len < total) {
                if (total > m_in.size()) grow(total);  // room for the whole frame
                break;
            }
            start(std::span<const std::uint8_t>(h + proto::kFrameHeaderSize, *len));
            compact(total);
            if (m_in_len > 0) m_frame_started = Clock::now();
        }
        if (!m_fd) return;
        write_some();
        if (!m_fd) return;
        if (m_in_len == before && m_in_flight == was_in_flight) break;
    }
    if (m_session.stop_requested && m_out_pos == m_out.size()) {
        // The reply to Stop is out: now the daemon stops.
        const Caller caller = m_caller;
        close(false);
        m_dispatcher.stop_after_reply(caller);
        return;
    }
    if (m_read_closed && !m_in_flight && m_out_pos == m_out.size() && buffered_requests() == 0) {
        if (m_in_len > 0)
            log_limited(m_warnings.bad_frame, spdlog::level::warn,
                        fmt::format("event=truncated_frame buffered={} {} closing=true", m_in_len, who()));
        close(false);
        return;
    }
    rearm();
}

void Connection::start(std::span<const std::uint8_t> body) {
    pb::Request request;
    if (auto refused = m_dispatcher.decode_frame(body, m_caller, m_session, request)) {
        append_reply(*refused);
        return;
    }
    if (m_options.observer) m_digest_prefixes = digest_prefixes(request);
    using Body = pb::Request::BodyCase;
    const Body kind = request.body_case();
    // What needs no backend is answered here, in order with the rest.
    if (kind == Body::kHello || kind == Body::kStop || kind == Body::BODY_NOT_SET || !m_session.negotiated) {
        const pb::Response response = m_dispatcher.handle(request, m_caller, m_session);
        Dispatcher::wipe_secrets(request);
        append_reply(response);
        return;
    }
    const std::uint64_t request_id = request.id();
    Scheduler::Submitted submitted = m_scheduler.submit(m_id, m_caller, m_session, std::move(request));
    switch (submitted.outcome) {
    case Scheduler::Submitted::Outcome::queued: m_in_flight = true; return;
    case Scheduler::Submitted::Outcome::answered: append_reply(submitted.response); return;
    case Scheduler::Submitted::Outcome::busy: break;
    }
    pb::Response busy;
    busy.set_id(request_id);
    busy.set_status(pb::STATUS_BUSY);
    busy.set_message("trustkeyd's queue for this key is full; retry later");
    log_limited(m_warnings.dropped, spdlog::level::warn, fmt::format("event=queue_full {} status=busy", who()));
    append_reply(busy);
}

void Connection::complete(Completion completion) {
    if (!m_fd || !m_in_flight) return;
    m_in_flight = false;
    m_session = completion.session;
    m_last_activity = Clock::now();
    append_reply(completion.response);
    advance();
}

void Connection::append_reply(const pb::Response& response) {
    if (m_options.observer) notify_reply(*m_options.observer, response, m_caller, m_digest_prefixes);
    const std::uint8_t version =
        m_session.negotiated ? static_cast<std::uint8_t>(m_session.version) : proto::kProtocolVersion;
    if (m_out_pos == m_out.size()) {
        m_out.clear();
        m_out_pos = 0;
        m_write_waiting = Clock::now();
    }
    const std::size_t size = response.ByteSizeLong();
    if (size + 1 > m_options.max_frame) {
        spdlog::error("event=reply_too_large size={} {}", size, who());
        pb::Response small;
        small.set_id(response.id());
        small.set_status(pb::STATUS_INTERNAL);
        small.set_message("the reply does not fit in one frame");
        proto::append_frame(m_out, version, small);
        return;
    }
    proto::append_frame(m_out, version, response);
}

void Connection::write_some() {
    while (m_fd && m_out_pos < m_out.size()) {
        const ssize_t k =
            ::send(m_fd.get(), m_out.data() + m_out_pos, m_out.size() - m_out_pos, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            m_out_pos += static_cast<std::size_t>(k);
            m_write_waiting = m_last_activity = Clock::now();
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        spdlog::debug("event=client_gone {} errno={}", who(), errno);
        close(true);  // EPIPE, ECONNRESET
        return;
    }
    if (m_out_pos == m_out.size()) {
        m_out.clear();
        m_out_pos = 0;
    }
}

void Connection::rearm() {
    if (!m_fd) return;
    std::uint32_t events = EPOLLET;
    if (!m_read_closed && m_in_len < m_in.size()) events |= EPOLLIN | EPOLLRDHUP;
    if (m_out_pos < m_out.size()) events |= EPOLLOUT;
    // Each change is a system call: made only when the events differ, or to have the kernel
    // report again what a read that stopped at a full buffer left in the socket.
    if (events != m_io_events || (m_unread && (events & EPOLLIN))) {
        sd_event_source_set_io_events(m_io.get(), events);
        m_io_events = events;
        m_unread = false;
    }

    std::optional<Clock::time_point> deadline;
    const auto earliest = [&deadline](Clock::time_point t) {
        if (!deadline || t < *deadline) deadline = t;
    };
    if (m_out_pos < m_out.size()) earliest(m_write_waiting + m_options.frame_timeout);
    if (m_in_len > 0 && buffered_requests() == 0) earliest(m_frame_started + m_options.frame_timeout);
    if (m_options.idle_timeout.count() > 0 && m_in_len == 0 && !m_in_flight && m_out_pos == m_out.size())
        earliest(m_last_activity + m_options.idle_timeout);
    // The timer is moved only to an earlier time: one armed later than needed fires, finds
    // nothing due and is armed again, which costs less than moving it on every request.
    if (deadline && (!m_timer_at || *deadline < *m_timer_at)) {
        sd_event_source_set_time(m_timer.get(), usec_of(*deadline));
        sd_event_source_set_enabled(m_timer.get(), SD_EVENT_ONESHOT);
        m_timer_at = deadline;
    }
}

std::size_t Connection::buffered_requests() const noexcept {
    std::size_t n = 0;
    std::size_t pos = 0;
    while (m_in_len - pos >= proto::kFrameHeaderSize) {
        const auto len = proto::parse_frame_header(
            std::span<const std::uint8_t, proto::kFrameHeaderSize>(m_in.data() + pos, proto::kFrameHeaderSize),
            m_options.max_frame);
        if (!len || m_in_len - pos - proto::kFrameHeaderSize < *len) break;
        pos += proto::kFrameHeaderSize + *len;
        ++n;
    }
    return n;
}

void Connection::grow(std::size_t size) {
    SecureBytes bigger(size, 0);
    std::memcpy(bigger.data(), m_in.data(), m_in_len);
    m_in.swap(bigger);  // the old buffer is wiped as it is freed
}

void Connection::compact(std::size_t consumed) noexcept {
    if (consumed == 0) return;
    const std::size_t rest = m_in_len - consumed;
    if (rest > 0) std::memmove(m_in.data(), m_in.data() + consumed, rest);
    OPENSSL_cleanse(m_in.data() + rest, m_in_len - rest);
    m_in_len = rest;
}

void Connection::close(bool client_gone) {
    if (!m_fd) return;
    std::size_t dropped = 0;
    if (m_in_flight || client_gone) dropped += m_scheduler.forget(m_id);
    const std::size_t unstarted = buffered_requests();
    m_scheduler.count_dropped(unstarted);
    dropped += unstarted;
    if (dropped > 0)
        log_limited(m_warnings.dropped, spdlog::level::info,
                    fmt::format("event=requests_dropped {} count={} total={}", who(), dropped, m_scheduler.dropped()));
    m_io.reset();
    m_timer.reset();
    ::shutdown(m_fd.get(), SHUT_RDWR);
    m_fd.reset();
    m_in_flight = false;
    OPENSSL_cleanse(m_in.data(), m_in_len);
    m_in_len = 0;
    spdlog::debug("event=connection_close {} requests={}", who(), m_session.requests);
    if (m_closed) m_closed(*this);
}

} // namespace trustkey::server
