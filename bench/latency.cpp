#include "bench/latency.h"

#include <algorithm>
#include <exception>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace trustkey::bench {
namespace {

double percentile_ms(const std::vector<std::uint64_t>& sorted_ns, double p) {
    if (sorted_ns.empty()) return 0;
    auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted_ns.size() - 1) + 0.5);
    return static_cast<double>(sorted_ns[std::min(rank, sorted_ns.size() - 1)]) / 1e6;
}

} // namespace

std::uint64_t Latency::lost() const noexcept {
    std::uint64_t n = requests - ok;
    if (auto it = failures.find("connect failed"); it != failures.end()) n += it->second;
    return n;
}

void set_percentiles(Latency& l, std::vector<std::uint64_t>& ns) {
    std::sort(ns.begin(), ns.end());
    l.p50_ms = percentile_ms(ns, 0.50);
    l.p99_ms = percentile_ms(ns, 0.99);
    l.max_ms = ns.empty() ? 0 : static_cast<double>(ns.back()) / 1e6;
}

Latency measure_latency(std::size_t clients, std::uint64_t requests_per_client, std::chrono::duration<double> duration,
                        const PrepareRequest& prepare, const std::atomic<bool>& stop) {
    using Clock = std::chrono::steady_clock;
    std::latch ready(static_cast<std::ptrdiff_t>(clients));
    std::latch go(1);
    Clock::time_point start;
    Clock::time_point deadline;
    std::vector<std::vector<std::uint64_t>> samples(clients);
    std::vector<Clock::time_point> ends(clients);
    std::mutex error_mutex;
    std::exception_ptr error;
    std::atomic<bool> failed{false};

    auto worker = [&](std::size_t i) {
        Request request;
        try {
            request = prepare(i);
            samples[i].reserve(static_cast<std::size_t>(std::min<std::uint64_t>(requests_per_client, 4096)));
        } catch (...) {
            std::lock_guard lock(error_mutex);
            if (!error) error = std::current_exception();
            failed = true;
        }
        ready.count_down();
        go.wait();
        try {
            for (std::uint64_t n = 0; request && n < requests_per_client && !failed && !stop; ++n) {
                auto t0 = Clock::now();
                if (t0 >= deadline) break;
                request();
                samples[i].push_back(static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
            }
        } catch (...) {
            std::lock_guard lock(error_mutex);
            if (!error) error = std::current_exception();
            failed = true;
        }
        ends[i] = Clock::now();
    };

    std::vector<std::jthread> pool;
    pool.reserve(clients);
    for (std::size_t i = 0; i < clients; ++i) pool.emplace_back(worker, i);
    ready.wait();
    start = Clock::now();
    deadline = start + std::chrono::duration_cast<Clock::duration>(duration);
    go.count_down();
    pool.clear();
    if (error) std::rethrow_exception(error);

    std::vector<std::uint64_t> all;
    Clock::time_point last = start;
    for (std::size_t i = 0; i < clients; ++i) {
        all.insert(all.end(), samples[i].begin(), samples[i].end());
        if (ends[i] > last) last = ends[i];
    }
    Latency l;
    l.clients = clients;
    l.requests = all.size();
    l.ok = all.size();  // a request that fails throws
    l.seconds = std::chrono::duration<double>(last - start).count();
    set_percentiles(l, all);
    return l;
}

} // namespace trustkey::bench
