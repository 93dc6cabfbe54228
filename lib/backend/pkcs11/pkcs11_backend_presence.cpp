// Pkcs11Backend and a token that is pulled out and put back: the session pool is opened when a
// token matches the URI and dropped when the module says the token went (or its sessions are
// gone); the key list stays so references resolve and hear the token is absent, naming it;
// check_presence() looks for the token and, when it is back, logs in again and reads the keys.
#include <utility>

#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/pkcs11_backend.h"
#include "lib/backend/pkcs11/token_uri.h"
#include "lib/backend/pkcs11/token_info.h"

namespace trustkey::backend::pkcs11 {

namespace {

// The token_absent error naming the backend and the token as last seen.
Error named_absent(const Pkcs11Config& config, const std::string& label, const std::string& serial,
                   const Error& cause) {
    const std::string token = label.empty() ? "no token matching " + config.token_uri + " is present"
                                            : "token '" + label + "' (serial " + serial + ") is absent";
    const CK_RV rv = cause.code() != 0 ? static_cast<CK_RV>(cause.code()) : CKR_TOKEN_NOT_PRESENT;
    return ck_error(Errc::token_absent, "backend '" + config.name + "': " + token + "; plug it in to use its keys",
                    cause.call().empty() ? "C_GetSlotList" : cause.call().c_str(), rv, config.token_uri);
}

} // namespace

std::shared_ptr<SessionPool> Pkcs11Backend::token_pool() {
    std::lock_guard lock(m_token_mutex);
    if (m_pool) return m_pool;
    try {
        const TokenSlot token = find_token(m_module->fn(), m_uri);
        m_pool = std::make_shared<SessionPool>(m_module, static_cast<CK_SLOT_ID>(token.id), m_config.sessions);
        m_seen_label = token.label;
        m_seen_serial = token.serial;
    } catch (const Error& e) {
        if (e.errc() == Errc::token_absent) {
            m_went_away = true;
            Error named = named_absent(m_config, m_seen_label, m_seen_serial, e);
            m_token_error = named.what();
            throw named;
        }
        m_token_error = e.what();
        throw;
    }
    m_token_error.clear();
    return m_pool;
}

void Pkcs11Backend::drop_pool(const std::shared_ptr<SessionPool>& pool) noexcept {
    {
        std::lock_guard lock(m_token_mutex);
        if (m_pool != pool) return;  // another thread dropped it already
        m_pool.reset();
        m_went_away = true;
        ++m_pool_drops;
    }
    m_login.forget();
    std::lock_guard lock(m_cache_mutex);
    m_handles_valid = false;
}

Error Pkcs11Backend::absent_error(const Error& cause) const {
    std::lock_guard lock(m_token_mutex);
    return named_absent(m_config, m_seen_label, m_seen_serial, cause);
}

bool Pkcs11Backend::still_present(const std::shared_ptr<SessionPool>& pool) noexcept {
    CK_TOKEN_INFO info{};
    const CK_RV rv = get_token_info(m_module->fn(), pool->slot(), info);
    if (rv != CKR_OK) return errc_for_rv(rv) != Errc::token_absent;  // another failure: not a removal
    // Another token in the same reader is a removal of ours.
    const TokenSlot token = token_slot_of(pool->slot(), info);
    std::lock_guard lock(m_token_mutex);
    return m_uri.matches(info) && (m_seen_serial.empty() || token.serial == m_seen_serial);
}

std::optional<PresenceChange> Pkcs11Backend::check_presence() {
    std::shared_ptr<SessionPool> pool;
    {
        std::lock_guard lock(m_token_mutex);
        pool = m_pool;
    }
    if (pool && !still_present(pool)) {
        drop_pool(pool);
        pool.reset();
    }
    if (!pool) {
        try {
            pool = token_pool();
        } catch (const Error&) {
            // Still away (or the module fails): looked for again at the next check.
        }
    }
    if (pool) {
        bool stale = false;
        {
            std::lock_guard lock(m_cache_mutex);
            stale = !m_handles_valid;
        }
        if (stale) restore_token();
    }
    // A removal a request saw is reported even when the token is back already (its return
    // then at the next check), so each pull is told once each way.
    std::lock_guard lock(m_token_mutex);
    const bool present = m_pool != nullptr;
    const bool went_away = std::exchange(m_went_away, false);
    if (m_reported_present && (went_away || !present)) {
        m_reported_present = false;
        return PresenceChange{false, m_seen_label, m_seen_serial};
    }
    if (!m_reported_present && present) {
        m_reported_present = true;
        return PresenceChange{true, m_seen_label, m_seen_serial};
    }
    return std::nullopt;
}

} // namespace trustkey::backend::pkcs11
