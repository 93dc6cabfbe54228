// The floor under any one-request-at-a-time client: the time of one round trip
// of a small message over a Unix stream socket between two processes.
#pragma once

namespace trustkey::bench {

// Ping-pongs 64-byte messages with a forked child for about `seconds`; returns
// microseconds per round trip.
double socket_round_trip_us(double seconds);

} // namespace trustkey::bench
