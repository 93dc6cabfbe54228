#include "daemon/server/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>

#include "daemon/core/log.h"
#include "daemon/core/secure_bytes.h"

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
        while (serve_one()) {
        }
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

bool Connection::serve_one() {
    std::array<std::uint8_t, proto::kFrameHeaderSize> header{};
    // The first byte may take as long as the client likes; the rest of the frame may not.
    ReadResult r = read_exact(header.data(), 1, false);
    if (r != ReadResult::ok) return false;
    m_deadline = std::chrono::steady_clock::now() + m_options.frame_timeout;
    r = read_exact(header.data() + 1, header.size() - 1, true);
    if (r == ReadResult::timeout) {
        spdlog::warn("event=frame_timeout caller_uid={} caller_pid={} closing=true", m_caller.uid, m_caller.pid);
        return false;
    }
    if (r != ReadResult::ok) return false;

    const auto len = proto::parse_frame_header(std::span<const std::uint8_t, proto::kFrameHeaderSize>(header),
                                               m_options.max_frame);
    if (!len) {
        const std::uint32_t raw = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                                  (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
        spdlog::warn("event=bad_frame_length length={} max={} caller_uid={} caller_pid={} closing=true", raw,
                     m_options.max_frame, m_caller.uid, m_caller.pid);
        return false;
    }

    SecureBytes body(*len);  // may hold a PIN or a private key: wiped when freed
    r = read_exact(body.data(), body.size(), true);
    if (r == ReadResult::timeout) {
        spdlog::warn("event=frame_timeout length={} caller_uid={} caller_pid={} closing=true", *len, m_caller.uid,
                     m_caller.pid);
        return false;
    }
    if (r != ReadResult::ok) {
        if (r == ReadResult::eof)
            spdlog::warn("event=truncated_frame length={} caller_uid={} closing=true", *len, m_caller.uid);
        return false;
    }

    pb::Response response =
        m_dispatcher.handle_frame(std::span<const std::uint8_t>(body.data(), body.size()), m_caller, m_session);
    const std::uint8_t version =
        m_session.negotiated ? static_cast<std::uint8_t>(m_session.version) : proto::kProtocolVersion;
    std::vector<std::uint8_t> message = proto::encode_message(response);
    if (message.size() + 1 > m_options.max_frame) {
        spdlog::error("event=reply_too_large size={} caller_uid={}", message.size(), m_caller.uid);
        pb::Response small;
        small.set_id(response.id());
        small.set_status(pb::STATUS_INTERNAL);
        small.set_message("the reply does not fit in one frame");
        message = proto::encode_message(small);
    }
    return write_all(proto::encode_frame(version, message));
}

Connection::ReadResult Connection::read_exact(std::uint8_t* out, std::size_t n, bool frame_started) {
    std::size_t got = 0;
    while (got < n) {
        int timeout_ms = -1;
        if (frame_started) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                m_deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return ReadResult::timeout;
            timeout_ms = static_cast<int>(left.count());
        }
        pollfd pfd{m_fd, POLLIN, 0};
        const int pr = ::poll(&pfd, 1, timeout_ms);
        if (pr < 0) {
            if (errno == EINTR) continue;
            return ReadResult::error;
        }
        if (pr == 0) return ReadResult::timeout;
        const ssize_t k = ::recv(m_fd, out + got, n - got, 0);
        if (k == 0) return ReadResult::eof;
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return ReadResult::error;  // ECONNRESET and the like: the client is gone
        }
        got += static_cast<std::size_t>(k);
    }
    return ReadResult::ok;
}

bool Connection::write_all(const std::vector<std::uint8_t>& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        const ssize_t k = ::send(m_fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
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
    return true;
}

} // namespace trustkey::server
