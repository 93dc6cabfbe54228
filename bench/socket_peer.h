// A forked child at the other end of a Unix stream socket pair, for the bench's bare peers (the
// socket round trip, the bare signer), and the exact reads and writes they exchange.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "lib/core/unique_fd.h"

namespace trustkey::bench {

// False on end of file or an error (EINTR is retried).
bool read_exact(int fd, std::uint8_t* buf, std::size_t size);
bool write_exact(int fd, const std::uint8_t* buf, std::size_t size);

class SocketPeer {
public:
    // Forks a child that runs `serve` on its end of the pair, then exits (0, or 2 when `serve`
    // throws). Throws Errc::io when the pair or the child cannot be made.
    explicit SocketPeer(const std::function<void(int fd)>& serve);
    SocketPeer(const SocketPeer&) = delete;
    SocketPeer& operator=(const SocketPeer&) = delete;
    // Hangs up and reaps the child.
    ~SocketPeer();

    int fd() const noexcept { return m_fd.get(); }
    // Closes this end (the child sees end of file) and reaps the child; returns its wait status.
    int finish() noexcept;

private:
    UniqueFd m_fd;
    pid_t m_pid = -1;
};

} // namespace trustkey::bench
