#include "daemon/server/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <openssl/crypto.h>

#include "lib/core/log.h"
#include "lib/core/secure_bytes.h"

namespace trustkey::server {

Connection::Connection(int fd, Caller caller, Dispatcher& dispatcher, Options options) noexcept
    : m_fd(fd), m_caller(caller), m_dispatcher(dispatcher), m_options(options) {}

void Connection::run() noexcept {
    try {
        // A client that stops reading its replies must not hold this thread for ever.
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(
            std::chrono::duration_cast<std::chrono::seconds>(m_options.frame_timeout).count());
        tv.tv_usec = 0;
        if (tv.tv_sec == 0) tv.tv_usec = 100000;
        ::setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

        spdlog::debug("event=connection_open caller_uid={} caller_pid={}", m_caller.uid, m_caller.pid);
        serve();
        // The peer sees the end now; the daemon closes the descriptor when it joins this thread.
        ::shutdown(m_fd, SHUT_RDWR);
        spdlog::debug("event=connection_close caller_uid={} caller_pid={} requests={}", m_caller.uid, m_caller.pid,
                      m_session.requests);
    } catch (const std::exception& e) {
        spdlog::error("event=connection_error caller_uid={} error={}", m_caller.uid, log::quoted(e.what()));
    } catch (...) {
        spdlog::error("event=connection_error caller_uid={} error=\"unknown\"", m_caller.uid);
    }
}

namespace {
std::uint32_t raw_length(const std::uint8_t* h) noexcept {
    return (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) | std::uint32_t{h[3]};
}
} // namespace

void Connection::serve() {
    // Small to start with; grown (up to two whole frames) when a larger frame arrives.
    m_in.assign(kInitialBuffer, 0);
    for (;;) {
        std::size_t processed = 0;
        const bool framing_ok = process_buffered(processed);
        const bool flushed = flush();
        if (m_session.stop_requested) {
            // The reply to Stop is out (or its client is gone): now the daemon stops.
            m_dispatcher.stop_after_reply(m_caller);
            return;
        }
        if (!flushed || !framing_ok) return;
        if (processed == kMaxReadAhead) continue;  // more complete frames may be waiting
        const ReadResult r = fill();
        if (r == ReadResult::ok) continue;
        if (r == ReadResult::timeout)
            spdlog::warn("event=frame_timeout buffered={} caller_uid={} caller_pid={} closing=true", m_in_len,
                         m_caller.uid, m_caller.pid);
        else if (r == ReadResult::eof && m_in_len > 0)
            spdlog::warn("event=truncated_frame buffered={} caller_uid={} closing=true", m_in_len, m_caller.uid);
        return;
    }
}

bool Connection::process_buffered(std::size_t& processed) {
    std::size_t pos = 0;
    bool ok = true;
    while (processed < kMaxReadAhead && m_in_len - pos >= proto::kFrameHeaderSize) {
        const std::uint8_t* h = m_in.data() + pos;
        const auto len = proto::parse_frame_header(std::span<const std::uint8_t, proto::kFrameHeaderSize>(h, 4),
                                                   m_options.max_frame);
        if (!len) {
            spdlog::warn("event=bad_frame_length length={} max={} caller_uid={} caller_pid={} closing=true",
                         raw_length(h), m_options.max_frame, m_caller.uid, m_caller.pid);
            ok = false;
            break;
        }
        if (m_in_len - pos - proto::kFrameHeaderSize < *len) {
            // The rest has not arrived yet: make room for the whole frame behind what came before it.
            const std::size_t need = pos + proto::kFrameHeaderSize + *len;
            if (need > m_in.size()) grow(std::min(need, 2 * (proto::kFrameHeaderSize + m_options.max_frame)));
            break;
        }
        queue_reply(std::span<const std::uint8_t>(h + proto::kFrameHeaderSize, *len));
        pos += proto::kFrameHeaderSize + *len;
        ++processed;
    }
    const bool new_partial = pos > 0 || m_in_len == 0;
    compact(pos);
    if (new_partial && m_in_len > 0) m_frame_started = std::chrono::steady_clock::now();
    return ok;
}

void Connection::queue_reply(std::span<const std::uint8_t> body) {
    pb::Response response = m_dispatcher.handle_frame(body, m_caller, m_session);
    const std::uint8_t version =
        m_session.negotiated ? static_cast<std::uint8_t>(m_session.version) : proto::kProtocolVersion;
    const std::size_t size = response.ByteSizeLong();
    if (size + 1 > m_options.max_frame) {
        spdlog::error("event=reply_too_large size={} caller_uid={}", size, m_caller.uid);
        pb::Response small;
        small.set_id(response.id());
        small.set_status(pb::STATUS_INTERNAL);
        small.set_message("the reply does not fit in one frame");
        proto::append_frame(m_out, version, small);
        return;
    }
    proto::append_frame(m_out, version, response);
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

Connection::ReadResult Connection::fill() {
    for (;;) {
        // A started frame must complete in time; between frames the client may take as long as
        // it likes, so there the read simply blocks (one system call per request; the daemon's
        // shutdown(2) of the socket wakes it).
        const int flags = m_in_len > 0 ? MSG_DONTWAIT : 0;
        const ssize_t k = ::recv(m_fd, m_in.data() + m_in_len, m_in.size() - m_in_len, flags);
        if (k > 0) {
            if (m_in_len == 0) m_frame_started = std::chrono::steady_clock::now();
            m_in_len += static_cast<std::size_t>(k);
            return ReadResult::ok;
        }
        if (k == 0) return ReadResult::eof;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return ReadResult::error;  // ECONNRESET: the client is gone
        int timeout_ms = -1;
        if (m_in_len > 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                m_frame_started + m_options.frame_timeout - std::chrono::steady_clock::now());
            if (left.count() <= 0) return ReadResult::timeout;
            timeout_ms = static_cast<int>(left.count());
        }
        pollfd pfd{m_fd, POLLIN, 0};
        const int pr = ::poll(&pfd, 1, timeout_ms);
        if (pr < 0 && errno != EINTR) return ReadResult::error;
        if (pr == 0) return ReadResult::timeout;
    }
}

bool Connection::flush() {
    std::size_t sent = 0;
    while (sent < m_out.size()) {
        const ssize_t k = ::send(m_fd, m_out.data() + sent, m_out.size() - sent, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                spdlog::warn("event=reply_timeout caller_uid={} closing=true", m_caller.uid);
            else
                spdlog::debug("event=client_gone caller_uid={} errno={}", m_caller.uid, errno);
            return false;
        }
        sent += static_cast<std::size_t>(k);
    }
    m_out.clear();
    return true;
}

} // namespace trustkey::server
