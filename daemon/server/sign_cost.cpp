#include "daemon/server/sign_cost.h"

#include <algorithm>

namespace trustkey::server {

namespace {

std::size_t index_of(keys::KeyType type) noexcept { return static_cast<std::size_t>(type); }

} // namespace

std::optional<std::chrono::nanoseconds> SignCost::expected(keys::KeyType type) const noexcept {
    const std::size_t i = index_of(type);
    if (i >= kTypes) return std::nullopt;
    const std::int64_t mean = m_mean_ns[i].load(std::memory_order_relaxed);
    if (mean <= 0) return std::nullopt;
    return std::chrono::nanoseconds(mean);
}

void SignCost::record(keys::KeyType type, std::chrono::nanoseconds took) noexcept {
    const std::size_t i = index_of(type);
    if (i >= kTypes) return;
    const std::int64_t sample = std::max<std::int64_t>(1, took.count());
    const std::int64_t mean = m_mean_ns[i].load(std::memory_order_relaxed);
    const std::int64_t next = mean <= 0 ? sample : mean + (sample - mean) / 8;
    m_mean_ns[i].store(std::max<std::int64_t>(1, next), std::memory_order_relaxed);
}

} // namespace trustkey::server
