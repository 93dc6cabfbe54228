// Many clients of trustkeyd at once, each its own connection with one Sign request
// outstanding at a time, driven by a few threads over non-blocking sockets and epoll
// (so a thousand clients cost the benchmark a few threads, not a thousand).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "bench/latency.h"

namespace trustkey::bench {

struct ClientLoadOptions {
    std::string socket;                       // trustkeyd's socket
    std::string key;                          // key reference to sign with
    std::size_t clients = 1;                  // connections, each one client
    std::size_t threads = 2;                  // driver threads sharing the connections
    std::chrono::duration<double> duration{2.0};
    std::chrono::seconds grace{30};           // after `duration`, how long to wait for outstanding replies
    pid_t server_pid = 0;                     // when set, its CPU time during the run is reported
    // When set, each client's last signature is checked with it after the run (outside the
    // clock); one that fails counts as "signature does not verify" instead of OK.
    std::function<bool(std::span<const std::uint8_t> digest, std::span<const std::uint8_t> sig)> verify;
};

// Connects every client (Hello, before the clock starts), then all sign together until
// `duration` has passed; a client that could not connect counts as "connect failed". Each
// request is timed from just before it is written to its decoded reply. Replies other than
// a signature count under their status; requests without a reply count as unanswered.
// The CPU time of this process (and of the server) while the clock ran is reported too.
Latency run_client_load(const ClientLoadOptions& options, const std::atomic<bool>& stop);

} // namespace trustkey::bench
