// Peer credentials of a Unix socket, and the rule deciding who may connect.
#pragma once

#include <sys/types.h>

#include "daemon/server/caller.h"

namespace trustkey::server {

// SO_PEERCRED of a connected socket. Throws Errc::io.
Caller read_peer_credentials(int fd);

// A peer may connect when its uid is ours, or 0 when `allow_root` is set.
bool caller_allowed(const Caller& caller, uid_t own_uid, bool allow_root) noexcept;

} // namespace trustkey::server
