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

// Reads frames from the socket, as many bytes per read as are there: a reply usually comes
// in with one read, header and body together. Bytes past the frame being read (the next
// replies of pipelined requests) stay buffered for the next take().
class FrameReader {
public:
    // True when a whole frame is buffered and take() can return it.
    bool has_frame() const noexcept { return m_frame > 0 && m_len >= m_frame; }

    // One recv() unless a whole frame is already buffered; returns has_frame(). With `block`,
    // the read waits (bounded by the socket's receive timeout; running out is an io error);
    // without, a read that finds nothing returns false. Throws on a closed connection or a
    // bad header.
    bool step(int fd, bool block);

    // The next completed frame's response, removed from the buffer.
    pb::Response take(std::uint8_t expected_version);

    // Bytes buffered beyond the frames taken so far.
    std::size_t buffered() const noexcept { return m_len; }

private:
    // Replies up to this size (a signature's is about 150 bytes) are read into the reader
    // itself; a larger frame moves everything to the heap.
    static constexpr std::size_t kInline = 1024;

    void parse_header();
    std::uint8_t* data() noexcept { return m_large.empty() ? m_inline.data() : m_large.data(); }
    std::size_t capacity() const noexcept { return m_large.empty() ? kInline : m_large.size(); }

    std::array<std::uint8_t, kInline> m_inline;  // not zeroed: only the first m_len bytes are read
    std::vector<std::uint8_t> m_large;
    std::size_t m_len = 0;    // bytes buffered
    std::size_t m_frame = 0;  // size of the frame at the front, header included, once its header is in
};

} // namespace trustkey::proto::client_io
