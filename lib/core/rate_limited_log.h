// A warning that may repeat (accept failures, refused connections, timeouts):
// at most one line per interval; the next line written says how many were left out.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

#include <spdlog/spdlog.h>

namespace trustkey {

class RateLimit {
public:
    using Clock = std::chrono::steady_clock;

    explicit RateLimit(std::chrono::milliseconds interval) noexcept : m_interval(interval) {}

    // Whether a line may be written at `now`; if so, the number of lines suppressed since the
    // last one written (0 for none), else nullopt (and that line is counted). Thread-safe.
    std::optional<std::uint64_t> admit(Clock::time_point now = Clock::now());

private:
    std::mutex m_mutex;
    std::chrono::milliseconds m_interval;
    std::optional<Clock::time_point> m_last;
    std::uint64_t m_suppressed = 0;
};

// Writes `line` at `level` when `limit` admits it, with " suppressed=N" appended when lines
// were left out since the last one.
void log_limited(RateLimit& limit, spdlog::level::level_enum level, std::string_view line);

} // namespace trustkey
