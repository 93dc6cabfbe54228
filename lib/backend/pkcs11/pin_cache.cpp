#include "lib/backend/pkcs11/pin_cache.h"

#include <openssl/crypto.h>

namespace trustkey::backend::pkcs11 {

namespace {

void wipe_locked(LockedBytes& b) noexcept {
    if (!b.empty()) OPENSSL_cleanse(b.data(), b.size());
    b.clear();
}

} // namespace

PinCache::~PinCache() {
    stop_expiry();
    clear();
}

void PinCache::stop_expiry() noexcept {
    if (m_expiry.joinable()) {
        m_expiry.request_stop();
        m_expiry.join();
    }
}

void PinCache::put(const LockedBytes& pin, std::chrono::milliseconds ttl) {
    stop_expiry();
    std::lock_guard lock(m_mutex);
    wipe_locked(m_pin);
    m_held = false;
    if (ttl.count() <= 0 || pin.empty()) return;
    m_pin = pin;
    m_held = true;
    m_until = std::chrono::steady_clock::now() + ttl;
    m_expiry = std::jthread([this, until = m_until](std::stop_token stop) {
        std::unique_lock wait_lock(m_mutex);
        m_changed.wait_until(wait_lock, stop, until, [] { return false; });
        if (!stop.stop_requested() && m_held && m_until == until) {
            wipe_locked(m_pin);
            m_held = false;
        }
    });
}

std::optional<LockedBytes> PinCache::get() {
    std::lock_guard lock(m_mutex);
    if (!m_held) return std::nullopt;
    if (std::chrono::steady_clock::now() >= m_until) {
        wipe_locked(m_pin);
        m_held = false;
        return std::nullopt;
    }
    return m_pin;
}

void PinCache::clear() noexcept {
    std::lock_guard lock(m_mutex);
    wipe_locked(m_pin);
    m_held = false;
}

} // namespace trustkey::backend::pkcs11
