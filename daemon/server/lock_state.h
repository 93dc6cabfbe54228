// Whether trustkeyd is locked, as ssh-agent is after `ssh-add -x`: locked, every backend has
// forgotten the PINs and authorization values it was given and logged out of its token, and
// requests that use keys are refused (STATUS_LOCKED) until an unlock with a token's PIN, which
// the token checks. Locked by a Lock request, after a time without use (idle lock), or when the
// desktop session locks. Read by workers and the loop alike: the flag is atomic, and locking
// and unlocking take turns.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "lib/backend/key_ring.h"
#include "lib/backend/pin_asker.h"
#include "lib/core/secure_bytes.h"

namespace trustkey::server {

class LockState {
public:
    using Clock = std::chrono::steady_clock;

    explicit LockState(backend::KeyRing& ring) : m_ring(ring), m_last_use(Clock::now().time_since_epoch().count()) {}

    // Who is asked for the PIN when an unlock comes without one (the user's pinentry); unset:
    // such an unlock is refused.
    void set_asker(backend::PinAsker asker) { m_asker = std::move(asker); }

    bool locked() const noexcept { return m_locked.load(std::memory_order_acquire); }
    // Locks every backend; `cause` goes to the log ("request", "idle", "session"). Locking a
    // locked daemon locks the backends again (a key's value given since is forgotten too).
    void lock(std::string_view cause);
    // Unlocks with the PIN of `backend_name`'s token (empty: the first backend that checks a
    // PIN); returns that backend, or null when no backend checks a PIN (nothing to check). A
    // refused PIN throws (pin_incorrect, pin_locked) and the daemon stays locked; naming a
    // backend that takes no PIN is invalid_argument. Without a PIN where one is checked, the
    // asker asks the user (a cancel is pin_required); without an asker it is invalid_argument.
    // `checked` is set to the backend asked, whether or not it accepted the PIN.
    backend::Backend* unlock(std::string_view backend_name, const SecureBytes& pin, backend::Backend** checked);

    // A key was used now: the idle lock counts from here.
    void touch() noexcept { m_last_use.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed); }
    Clock::time_point last_use() const noexcept {
        return Clock::time_point(Clock::duration(m_last_use.load(std::memory_order_relaxed)));
    }

private:
    // The PIN of `b`'s token, asked through the asker.
    SecureBytes ask_pin(backend::Backend& b);

    backend::KeyRing& m_ring;
    backend::PinAsker m_asker;
    std::mutex m_mutex;  // lock() and unlock() take turns
    std::atomic<bool> m_locked{false};
    std::atomic<Clock::rep> m_last_use;
};

} // namespace trustkey::server
