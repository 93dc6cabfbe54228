// Latency of single requests made by many concurrent clients, each looping over a
// bounded number of requests.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace trustkey::bench {

struct Latency {
    std::size_t clients = 0;
    std::uint64_t requests = 0;
    double seconds = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
    double per_second() const noexcept { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
};

// One request; timed by the caller.
using Request = std::function<void()>;
using PrepareRequest = std::function<Request(std::size_t client_index)>;

// All clients prepare (connect), start together, and each makes up to `requests_per_client`
// requests, stopping early when `duration` has passed or `stop` is set.
Latency measure_latency(std::size_t clients, std::uint64_t requests_per_client, std::chrono::duration<double> duration,
                        const PrepareRequest& prepare, const std::atomic<bool>& stop);

} // namespace trustkey::bench
