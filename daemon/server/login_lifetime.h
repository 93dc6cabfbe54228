// The login lifetime of tokens holding keys with a [[key_constraint]] lifetime_seconds (as
// `ssh-add -t`): a token's login ends the shortest of its keys' lifetimes after it began.
// A timer on the daemon's loop watches the backends' logins (login_began(), the keys
// cached in memory: nothing that waits for a token); an ended one is logged out, and the
// PIN kept for it forgotten, by a job on that backend's work queue, since logging out
// waits for the token's operations in flight. One log line says so.
#pragma once

#include <chrono>
#include <optional>
#include <unordered_map>

#include "daemon/server/key_constraints.h"
#include "daemon/server/scheduler.h"
#include "daemon/server/sd_event_handle.h"
#include "lib/backend/key_ring.h"

namespace trustkey::server {

// The lifetime of `b`'s login, from the keys it holds in memory; nullopt when none of
// them has one (or the keys are not in memory).
std::optional<std::chrono::seconds> login_lifetime_of(backend::Backend& b, const KeyConstraints& constraints);
// When the login in place on `b` ends; nullopt when there is none, or no lifetime.
std::optional<std::chrono::steady_clock::time_point> login_end_of(backend::Backend& b,
                                                                  const KeyConstraints& constraints);

class LoginLifetime {
public:
    // Starts the timer on `event`; all the references must outlive this.
    LoginLifetime(sd_event* event, backend::KeyRing& ring, const KeyConstraints& constraints, Scheduler& scheduler);
    LoginLifetime(const LoginLifetime&) = delete;
    LoginLifetime& operator=(const LoginLifetime&) = delete;

private:
    using Clock = std::chrono::steady_clock;
    static int on_timer(sd_event_source* s, std::uint64_t usec, void* self) noexcept;
    // Ends what is due; returns when to look again.
    Clock::time_point check(Clock::time_point now);

    backend::KeyRing& m_ring;
    const KeyConstraints& m_constraints;
    Scheduler& m_scheduler;
    // The login each backend was last sent a job for, to end it or to read its keys, so a
    // pending job is not sent again on the next tick. The loop's alone.
    std::unordered_map<const backend::Backend*, Clock::time_point> m_ending;
    std::unordered_map<const backend::Backend*, Clock::time_point> m_reading;
    UniqueSdEventSource m_timer;
};

} // namespace trustkey::server
