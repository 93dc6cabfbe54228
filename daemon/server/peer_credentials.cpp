#include "daemon/server/peer_credentials.h"

#include <sys/socket.h>

#include <cerrno>

#include "lib/core/error.h"

namespace trustkey::server {

Caller read_peer_credentials(int fd) {
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) throw_errno("getsockopt(SO_PEERCRED)", errno);
    return Caller{cred.pid, cred.uid, cred.gid};
}

bool caller_allowed(const Caller& caller, uid_t own_uid, bool allow_root) noexcept {
    return caller.uid == own_uid || (allow_root && caller.uid == 0);
}

} // namespace trustkey::server
