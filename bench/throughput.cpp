#include "bench/throughput.h"

#include <exception>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace trustkey::bench {

Throughput measure_throughput(std::size_t threads, std::chrono::duration<double> duration,
                              const PrepareStep& prepare, const std::atomic<bool>& stop) {
    using Clock = std::chrono::steady_clock;
    std::latch ready(static_cast<std::ptrdiff_t>(threads));
    std::latch go(1);
    Clock::time_point start;  // written before `go` opens
    Clock::time_point deadline;
    std::vector<std::uint64_t> counts(threads, 0);
    std::vector<Clock::time_point> ends(threads);
    std::mutex error_mutex;
    std::exception_ptr error;
    std::atomic<bool> failed{false};

    auto worker = [&](std::size_t i) {
        Step step;
        try {
            step = prepare(i);
        } catch (...) {
            std::lock_guard lock(error_mutex);
            if (!error) error = std::current_exception();
            failed = true;
        }
        ready.count_down();
        go.wait();
        try {
            while (step && !failed && !stop && Clock::now() < deadline) counts[i] += step();
        } catch (...) {
            std::lock_guard lock(error_mutex);
            if (!error) error = std::current_exception();
            failed = true;
        }
        ends[i] = Clock::now();
    };

    std::vector<std::jthread> pool;
    pool.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) pool.emplace_back(worker, i);
    ready.wait();
    start = Clock::now();
    deadline = start + std::chrono::duration_cast<Clock::duration>(duration);
    go.count_down();
    pool.clear();  // joins
    if (error) std::rethrow_exception(error);

    Throughput t;
    t.threads = threads;
    Clock::time_point last = start;
    for (std::size_t i = 0; i < threads; ++i) {
        t.signatures += counts[i];
        if (ends[i] > last) last = ends[i];
    }
    t.seconds = std::chrono::duration<double>(last - start).count();
    return t;
}

} // namespace trustkey::bench
