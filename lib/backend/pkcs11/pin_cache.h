// A PIN the user typed, kept in locked, wiped memory for a time-to-live so a lost
// login (sessions closed, token re-inserted) is restored without asking again. A
// thread of its own wipes it when the time is up, whether or not it is used again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "lib/core/locked_bytes.h"

namespace trustkey::backend::pkcs11 {

class PinCache {
public:
    PinCache() = default;
    PinCache(const PinCache&) = delete;
    PinCache& operator=(const PinCache&) = delete;
    ~PinCache();

    // Keeps a copy of `pin` for `ttl`; a zero ttl keeps nothing (and drops what was kept).
    void put(const LockedBytes& pin, std::chrono::milliseconds ttl);
    // A copy of the kept PIN, nullopt when none is kept or its time is up.
    std::optional<LockedBytes> get();
    // Wipes the kept PIN.
    void clear() noexcept;

private:
    void stop_expiry() noexcept;

    std::mutex m_mutex;
    std::condition_variable_any m_changed;
    LockedBytes m_pin;
    bool m_held = false;
    std::chrono::steady_clock::time_point m_until{};
    std::jthread m_expiry;
};

} // namespace trustkey::backend::pkcs11
