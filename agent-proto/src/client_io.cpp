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
        const ssize_t n = ::send(fd, data.data() + offset, data.size() - offset, MSG_NOSIGNAL);
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

// Reads exactly one frame, never more, across as many non-blocking reads as it takes.

} // namespace trustkey::proto::client_io
