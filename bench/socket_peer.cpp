#include "bench/socket_peer.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "lib/core/error.h"

namespace trustkey::bench {

bool read_exact(int fd, std::uint8_t* buf, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t k = ::read(fd, buf + done, size - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        done += static_cast<std::size_t>(k);
    }
    return true;
}

bool write_exact(int fd, const std::uint8_t* buf, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t k = ::write(fd, buf + done, size - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        done += static_cast<std::size_t>(k);
    }
    return true;
}

SocketPeer::SocketPeer(const std::function<void(int fd)>& serve) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair", errno);
    UniqueFd ours(sv[0]), theirs(sv[1]);
    m_pid = ::fork();
    if (m_pid < 0) throw_errno("fork", errno);
    if (m_pid == 0) {
        ours.reset();
        try {
            serve(theirs.get());
        } catch (...) {
            ::_exit(2);
        }
        ::_exit(0);
    }
    m_fd = std::move(ours);
}

SocketPeer::~SocketPeer() { finish(); }

int SocketPeer::finish() noexcept {
    m_fd.reset();
    if (m_pid <= 0) return 0;
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
    m_pid = -1;
    return status;
}

} // namespace trustkey::bench
