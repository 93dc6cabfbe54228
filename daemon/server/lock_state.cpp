#include "daemon/server/lock_state.h"

#include "lib/core/error.h"
#include "lib/core/locked_bytes.h"
#include "lib/core/log.h"

namespace trustkey::server {

void LockState::lock(std::string_view cause) {
    std::lock_guard turn(m_mutex);
    // Refused from now on, before the backends log out.
    m_locked.store(true, std::memory_order_release);
    for (backend::Backend* b : m_ring.backends()) {
        try {
            b->lock();
        } catch (const std::exception& e) {
            spdlog::warn("event=lock_failed backend={} error={}", log::quoted(b->name()), log::quoted(e.what()));
        }
    }
    spdlog::info("event=locked cause={}", cause);
}

backend::Backend* LockState::unlock(std::string_view backend_name, const SecureBytes& pin, backend::Backend** checked) {
    std::lock_guard turn(m_mutex);
    backend::Backend* with_pin = nullptr;
    if (!backend_name.empty()) {
        with_pin = &m_ring.backend(backend_name);
        if (!with_pin->checks_pin())
            throw Error(Errc::invalid_argument, "backend '" + with_pin->name() + "' takes no PIN to unlock with");
    } else {
        for (backend::Backend* b : m_ring.backends())
            if (b->checks_pin()) {
                with_pin = b;
                break;
            }
    }
    if (checked) *checked = with_pin;
    if (with_pin) {
        if (pin.empty() && !m_asker) throw Error(Errc::invalid_argument, "the PIN is empty");
        const SecureBytes asked = pin.empty() ? ask_pin(*with_pin) : SecureBytes{};
        with_pin->unlock(pin.empty() ? &asked : &pin);  // the token checks it; a refusal leaves everything locked
    }
    for (backend::Backend* b : m_ring.backends())
        if (b != with_pin) b->unlock(nullptr);
    m_locked.store(false, std::memory_order_release);
    touch();
    spdlog::info("event=unlocked backend={}", log::quoted(with_pin ? with_pin->name() : std::string()));
    return with_pin;
}

SecureBytes LockState::ask_pin(backend::Backend& b) {
    backend::PinQuestion question;
    try {
        const backend::BackendStatus st = b.status();
        question.token = st.token_label.empty() ? b.name() : st.token_label;
        question.serial = st.serial;
    } catch (const std::exception&) {
        question.token = b.name();
    }
    question.purpose = "unlock trustkeyd";
    std::optional<LockedBytes> typed = m_asker(question);
    if (!typed) throw Error(Errc::pin_required, "unlocking was cancelled at the PIN prompt", 0, {}, b.name());
    SecureBytes pin = to_secure(*typed);
    if (pin.empty()) throw Error(Errc::invalid_argument, "the PIN is empty");
    return pin;
}

} // namespace trustkey::server
