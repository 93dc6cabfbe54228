// Latency of single requests made by many concurrent clients, each looping over a
// bounded number of requests.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace trustkey::bench {

struct Latency {
    std::size_t clients = 0;
    std::uint64_t requests = 0;    // sent
    std::uint64_t ok = 0;          // answered with success
    std::uint64_t unanswered = 0;  // sent, but no reply came (connection closed, or none in time)
    std::map<std::string, std::uint64_t> failures;  // what went wrong (a status, a refused connection), how often
    double seconds = 0;
    double p50_ms = 0;  // over the answered requests
    double p99_ms = 0;
    double max_ms = 0;
    double client_cpu_seconds = -1;  // CPU used by this process while the clock ran (-1: not measured)
    double server_cpu_seconds = -1;  // CPU used by the server meanwhile (-1: not measured)
    // Successful requests per second.
    double per_second() const noexcept { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
    // Requests that did not end in success, and clients that could not connect.
    std::uint64_t lost() const noexcept;
};

// Fills p50/p99/max from request times in nanoseconds (sorts them).
void set_percentiles(Latency& l, std::vector<std::uint64_t>& ns);

// One request; timed by the caller.
using Request = std::function<void()>;
using PrepareRequest = std::function<Request(std::size_t client_index)>;

// All clients prepare (connect), start together, and each makes up to `requests_per_client`
// requests, stopping early when `duration` has passed or `stop` is set.
Latency measure_latency(std::size_t clients, std::uint64_t requests_per_client, std::chrono::duration<double> duration,
                        const PrepareRequest& prepare, const std::atomic<bool>& stop);

} // namespace trustkey::bench
