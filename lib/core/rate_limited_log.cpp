#include "lib/core/rate_limited_log.h"

#include <spdlog/spdlog.h>

namespace trustkey {

std::optional<std::uint64_t> RateLimit::admit(Clock::time_point now) {
    std::lock_guard lock(m_mutex);
    if (m_last && now - *m_last < m_interval) {
        ++m_suppressed;
        return std::nullopt;
    }
    m_last = now;
    const std::uint64_t suppressed = m_suppressed;
    m_suppressed = 0;
    return suppressed;
}

void log_limited(RateLimit& limit, spdlog::level::level_enum level, std::string_view line) {
    if (!spdlog::should_log(level)) return;
    const auto suppressed = limit.admit();
    if (!suppressed) return;
    if (*suppressed > 0)
        spdlog::log(level, "{} suppressed={}", line, *suppressed);
    else
        spdlog::log(level, "{}", line);
}

} // namespace trustkey
