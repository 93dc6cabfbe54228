// Per-connection protocol state the dispatcher keeps between requests.
#pragma once

#include <cstdint>

namespace trustkey::server {

struct Session {
    bool negotiated = false;       // a Hello was answered
    std::uint32_t version = 0;     // the version both sides speak once negotiated
    std::uint64_t requests = 0;    // requests handled on this connection
    bool stop_requested = false;   // a Stop was answered: stop the daemon once the reply is out
};

} // namespace trustkey::server
