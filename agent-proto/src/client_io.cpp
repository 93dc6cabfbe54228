#include "client_io.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace trustkey::proto::client_io {

[[noreturn]] void fail(Kind kind, std::string message) {
    throw ClientError(kind, pb::STATUS_OK, std::move(message));
}

[[noreturn]] void fail_errno(const char* what, int err) {
    fail(Kind::io, std::string(what) + ": " + std::strerror(err));
}

// Waits until `fd` is ready for `events`; a wait longer than `timeout` is an io error.
short wait_for(int fd, short events, std::chrono::milliseconds timeout) {
    pollfd p{fd, events, 0};
    const int ms = static_cast<int>(std::clamp<std::int64_t>(timeout.count(), 0, kMaxWaitMs));
    for (;;) {
        const int rc = ::poll(&p, 1, ms);
        if (rc > 0) return p.revents;
        if (rc == 0) fail(Kind::io, "timed out waiting for trustkeyd");
        if (errno != EINTR) fail_errno("poll", errno);
    }
}

// Writes what it can of `data` from `offset` without blocking. Returns the new offset.
std::size_t write_some(int fd, std::span<const std::uint8_t> data, std::size_t offset) {
    for (;;) {
        const ssize_t n = ::send(fd, data.data() + offset, data.size() - offset, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return offset + static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return offset;
        fail_errno("write to trustkeyd", errno);
    }
}

void write_all(int fd, std::span<const std::uint8_t> data, std::chrono::milliseconds timeout) {
    std::size_t off = 0;
    while (off < data.size()) {
        off = write_some(fd, data, off);
        if (off < data.size()) wait_for(fd, POLLOUT, timeout);
    }
}

void FrameReader::parse_header() {
    if (m_frame > 0 || m_len < kFrameHeaderSize) return;
    const auto len = parse_frame_header(std::span<const std::uint8_t, kFrameHeaderSize>(data(), kFrameHeaderSize));
    if (!len) fail(Kind::protocol, "trustkeyd sent a frame with an invalid length");
    m_frame = kFrameHeaderSize + *len;
}

bool FrameReader::step(int fd, bool block) {
    if (has_frame()) return true;
    if (m_frame > capacity()) {
        // The frame does not fit: move what came so far into a heap buffer of its size.
        std::vector<std::uint8_t> large(m_frame);
        std::memcpy(large.data(), data(), m_len);
        m_large.swap(large);
    }
    const ssize_t n = ::recv(fd, data() + m_len, capacity() - m_len, block ? 0 : MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EINTR) return false;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (block) fail(Kind::io, "timed out waiting for trustkeyd");
            return false;
        }
        fail_errno("read from trustkeyd", errno);
    }
    if (n == 0) {
        fail(Kind::io, m_len == 0 ? "trustkeyd closed the connection"
                                  : "trustkeyd closed the connection in the middle of a reply");
    }
    m_len += static_cast<std::size_t>(n);
    parse_header();
    return has_frame();
}

pb::Response FrameReader::take(std::uint8_t expected_version) {
    if (!has_frame()) fail(Kind::protocol, "no complete reply from trustkeyd");
    const auto body = split_frame_body(std::span<const std::uint8_t>(data() + kFrameHeaderSize,
                                                                     m_frame - kFrameHeaderSize));
    if (!body) fail(Kind::protocol, "trustkeyd sent an empty frame");
    if (body->version != expected_version) {
        fail(Kind::protocol, "trustkeyd answered with protocol version " + std::to_string(body->version) +
                                 ", expected " + std::to_string(expected_version));
    }
    pb::Response resp;
    std::string why;
    if (!decode_response(body->message, resp, why)) fail(Kind::protocol, "unreadable reply from trustkeyd: " + why);
    // Whatever came after this frame moves to the front.
    const std::size_t rest = m_len - m_frame;
    if (rest > 0) std::memmove(data(), data() + m_frame, rest);
    m_len = rest;
    m_frame = 0;
    parse_header();
    return resp;
}

} // namespace trustkey::proto::client_io
