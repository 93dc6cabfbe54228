#include "daemon/server/login_lifetime.h"

#include <algorithm>

#include "lib/core/error.h"
#include "lib/core/log.h"

namespace trustkey::server {

namespace {

// How long a new login may go unseen: the timer looks at least this often.
constexpr std::chrono::milliseconds kLookEvery{1000};
constexpr std::uint64_t kAccuracyUsec = 50 * 1000;

} // namespace

std::optional<std::chrono::seconds> login_lifetime_of(backend::Backend& b, const KeyConstraints& constraints) {
    if (!constraints.any_lifetime()) return std::nullopt;
    const auto keys = b.cached_keys();
    if (!keys) return std::nullopt;
    return constraints.login_lifetime(*keys);
}

std::optional<std::chrono::steady_clock::time_point> login_end_of(backend::Backend& b,
                                                                  const KeyConstraints& constraints) {
    const auto began = b.login_began();
    if (!began) return std::nullopt;
    const auto lifetime = login_lifetime_of(b, constraints);
    if (!lifetime) return std::nullopt;
    return *began + *lifetime;
}

LoginLifetime::LoginLifetime(sd_event* event, backend::KeyRing& ring, const KeyConstraints& constraints,
                             Scheduler& scheduler)
    : m_ring(ring), m_constraints(constraints), m_scheduler(scheduler) {
    sd_event_source* s = nullptr;
    const int rc = sd_event_add_time(event, &s, CLOCK_MONOTONIC, usec_of(Clock::now() + kLookEvery), kAccuracyUsec,
                                     &LoginLifetime::on_timer, this);
    if (rc < 0) throw_errno("sd_event_add_time", -rc);
    m_timer.reset(s);
}

int LoginLifetime::on_timer(sd_event_source* s, std::uint64_t, void* self) noexcept {
    auto* l = static_cast<LoginLifetime*>(self);
    const auto now = Clock::now();
    Clock::time_point next = now + kLookEvery;
    try {
        next = l->check(now);
    } catch (const std::exception& e) {
        spdlog::error("event=login_lifetime_error error={}", log::quoted(e.what()));
    }
    sd_event_source_set_time(s, usec_of(next));
    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
    return 0;
}

LoginLifetime::Clock::time_point LoginLifetime::check(Clock::time_point now) {
    Clock::time_point next = now + kLookEvery;
    for (backend::Backend* b : m_ring.backends()) {
        const auto began = b->login_began();
        if (!began) continue;
        if (const auto sent = m_ending.find(b); sent != m_ending.end() && sent->second == *began)
            continue;  // its end is on the queue
        const auto keys = b->cached_keys();
        if (!keys) {
            // The keys are not in memory yet: read them on the backend's queue, and look again.
            if (const auto sent = m_reading.find(b); sent != m_reading.end() && sent->second == *began) continue;
            m_reading[b] = *began;
            m_scheduler.run_task(
                b, 0,
                [b]() -> std::function<void()> {
                    try {
                        b->known_keys();
                    } catch (const std::exception&) {
                        // The token's own operations report why it cannot be read.
                    }
                    return nullptr;
                },
                true);
            continue;
        }
        const auto lifetime = m_constraints.login_lifetime(*keys);
        if (!lifetime) continue;
        const auto end = *began + *lifetime;
        if (end > now) {
            next = std::min(next, end);
            continue;
        }
        m_ending[b] = *began;
        const auto when = *began;
        const auto seconds = lifetime->count();
        m_scheduler.run_task(
            b, 0,
            [b, when, seconds]() -> std::function<void()> {
                try {
                    if (b->end_login(when))
                        spdlog::info("event=login_lifetime_ended backend={} lifetime_seconds={} reason=\"logged "
                                     "out, the PIN kept for the token forgotten\"",
                                     log::quoted(b->name()), seconds);
                } catch (const std::exception& e) {
                    spdlog::error("event=login_lifetime_end_failed backend={} error={}", log::quoted(b->name()),
                                  log::quoted(e.what()));
                }
                return nullptr;
            },
            true);
    }
    return next;
}

} // namespace trustkey::server
