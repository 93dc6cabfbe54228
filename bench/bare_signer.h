// The ceiling for a one-request-at-a-time client of any signing server on this machine: a
// forked child that signs, in-process through the PKCS#11 module, each 32-byte digest it
// reads from a Unix stream socket and writes the 64-byte signature straight back. No
// protocol, no framing, no event loop: only the token's own work and the socket round trip,
// with the wake-ups that a round trip costs when the server computes between read and reply.
#pragma once

#include <string>
#include <string_view>

namespace trustkey::bench {

struct BareSigner {
    std::string module;       // PKCS#11 module path (the token's configuration is in the environment)
    std::string token_label;
    std::string pin;
    std::string key_label;    // an ECDSA P-256 private key on that token
};

// Signs for about `seconds`, one digest at a time; returns signatures per second. Call it
// while the process runs no other threads (it forks).
double bare_signer_rate(const BareSigner& signer, double seconds);

} // namespace trustkey::bench
