// Who is on the other end of a connection, from SO_PEERCRED.
#pragma once

#include <sys/types.h>

namespace trustkey::server {

struct Caller {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

} // namespace trustkey::server
