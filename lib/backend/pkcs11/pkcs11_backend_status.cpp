// Pkcs11Backend's status: the token's identity and PIN flags, its key count and login state.
#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/pkcs11_backend.h"
#include "lib/backend/pkcs11/token_uri.h"
#include "lib/backend/pkcs11/token_info.h"

namespace trustkey::backend::pkcs11 {

BackendStatus Pkcs11Backend::status() {
    BackendStatus st;
    st.name = m_config.name;
    st.kind = "pkcs11";
    st.location = m_config.module.string();
    st.sessions = m_config.sessions;
    // An absent token is shown as last seen, with the keys it had.
    auto absent = [&](const Error& e) {
        st.error = e.what();
        {
            std::lock_guard lock(m_token_mutex);
            st.token_label = m_seen_label;
            st.serial = m_seen_serial;
        }
        if (e.errc() == Errc::token_absent)
            if (const auto keys = cached_keys()) st.key_count = keys->size();
        return st;
    };
    std::shared_ptr<SessionPool> pool;
    try {
        pool = token_pool();
    } catch (const Error& e) {
        return absent(e);
    }
    CK_TOKEN_INFO info{};
    CK_RV rv = get_token_info(m_module->fn(), pool->slot(), info);
    if (rv != CKR_OK) {
        const Error e = ck_error("C_GetTokenInfo", rv, m_config.token_uri);
        if (e.errc() != Errc::token_absent) return absent(e);
        drop_pool(pool);
        return absent(absent_error(e));
    }
    st.present = true;
    TokenSlot token = token_slot_of(pool->slot(), info);
    st.token_label = std::move(token.label);
    st.manufacturer = std::move(token.manufacturer);
    st.model = std::move(token.model);
    st.serial = std::move(token.serial);
    st.pin_count_low = (info.flags & CKF_USER_PIN_COUNT_LOW) != 0;
    st.pin_final_try = (info.flags & CKF_USER_PIN_FINAL_TRY) != 0;
    st.pin_locked = (info.flags & CKF_USER_PIN_LOCKED) != 0;
    try {
        st.key_count = list_keys().size();
    } catch (const Error& e) {
        st.error = e.what();
    }
    st.logged_in = m_login.state() == TokenLogin::State::logged_in;
    st.pin_refused = m_login.refused();
    if (st.error.empty() && !st.logged_in) st.error = m_login.last_error();
    return st;
}

} // namespace trustkey::backend::pkcs11
