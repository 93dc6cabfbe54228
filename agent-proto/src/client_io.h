// Socket helpers of the client library, internal to agent-proto: bounded waits,
// non-blocking writes, and reading exactly one frame.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trustkey/proto/client.h"
#include "trustkey/proto/codec.h"
#include "trustkey/proto/frame.h"

namespace trustkey::proto::client_io {

using Kind = ClientError::Kind;

// Longest single wait (a day): keeps poll's int argument and timeval in range.
inline constexpr std::int64_t kMaxWaitMs = 24LL * 3600 * 1000;

// Throws a ClientError of `kind` (status OK: the failure is on this side, not a reply's).
[[noreturn]] void fail(Kind kind, std::string message);
[[noreturn]] void fail_errno(const char* what, int err);
// Waits until `fd` is ready for `events`; a wait longer than `timeout` is an io error.
short wait_for(int fd, short events, std::chrono::milliseconds timeout);
// Writes what it can of `data` from `offset` without blocking. Returns the new offset.
std::size_t write_some(int fd, std::span<const std::uint8_t> data, std::size_t offset);
void write_all(int fd, std::span<const std::uint8_t> data, std::chrono::milliseconds timeout);

class FrameReader {
public:
    // One read(); returns true once a whole frame is in. Throws on a closed connection
    // or a bad header.
    bool step(int fd) {
        std::uint8_t* dst;
        std::size_t want;
        if (m_got < kFrameHeaderSize) {
            dst = m_header.data() + m_got;
            want = kFrameHeaderSize - m_got;
        } else {
            dst = m_body.data() + (m_got - kFrameHeaderSize);
            want = m_body.size() - (m_got - kFrameHeaderSize);
        }
        const ssize_t n = ::read(fd, dst, want);
        m_would_block = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        if (n < 0) {
            if (errno == EINTR || m_would_block) return false;
            fail_errno("read from trustkeyd", errno);
        }
        if (n == 0) {
            fail(Kind::io, m_got == 0 ? "trustkeyd closed the connection"
                                      : "trustkeyd closed the connection in the middle of a reply");
        }
        m_got += static_cast<std::size_t>(n);
        if (m_got == kFrameHeaderSize && m_body.empty()) {
            const auto len = parse_frame_header(std::span<const std::uint8_t, kFrameHeaderSize>(m_header));
            if (!len) fail(Kind::protocol, "trustkeyd sent a frame with an invalid length");
            m_body.resize(*len);
        }
        return m_got > kFrameHeaderSize && m_got == kFrameHeaderSize + m_body.size();
    }

    // The completed frame's response; resets the reader for the next frame.
    pb::Response take(std::uint8_t expected_version) {
        const auto body = split_frame_body(m_body);
        if (!body) fail(Kind::protocol, "trustkeyd sent an empty frame");
        if (body->version != expected_version) {
            fail(Kind::protocol, "trustkeyd answered with protocol version " + std::to_string(body->version) +
                                     ", expected " + std::to_string(expected_version));
        }
        pb::Response resp;
        std::string why;
        if (!decode_response(body->message, resp, why)) fail(Kind::protocol, "unreadable reply from trustkeyd: " + why);
        m_got = 0;
        m_body.clear();
        return resp;
    }

    // The last step() found nothing to read: wait before the next.
    bool would_block() const noexcept { return m_would_block; }

private:
    std::array<std::uint8_t, kFrameHeaderSize> m_header{};
    std::vector<std::uint8_t> m_body;
    std::size_t m_got = 0;
    bool m_would_block = false;
};

} // namespace trustkey::proto::client_io
