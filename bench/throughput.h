// Signatures per second of N threads working at once for a bounded time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace trustkey::bench {

struct Throughput {
    std::size_t threads = 0;
    std::uint64_t signatures = 0;
    double seconds = 0;  // from the common start to the last thread's end
    double per_second() const noexcept { return seconds > 0 ? static_cast<double>(signatures) / seconds : 0; }
};

// One thread's work: makes some signatures and returns how many.
using Step = std::function<std::uint64_t()>;
// Called on each worker thread before the clock starts (opens its session or connection).
using PrepareStep = std::function<Step(std::size_t thread_index)>;

// Every thread prepares, then all start together and call their step until `duration`
// has passed (or `stop` is set). The first exception of any thread is rethrown.
Throughput measure_throughput(std::size_t threads, std::chrono::duration<double> duration,
                              const PrepareStep& prepare, const std::atomic<bool>& stop);

} // namespace trustkey::bench
