#include "lib/backend/pkcs11/scoped_login.h"

#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/token_info.h"
#include "lib/core/error.h"

namespace trustkey::backend::pkcs11 {

namespace {

std::string tries_left(CK_FLAGS flags, bool so) {
    const CK_FLAGS locked = so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
    const CK_FLAGS final_try = so ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY;
    const CK_FLAGS low = so ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW;
    if (flags & locked) return "the PIN is now locked";
    if (flags & final_try) return "one try left before the PIN locks";
    if (flags & low) return "few tries left (the token does not say how many)";
    return "the token does not report how many tries are left";
}

} // namespace

ScopedLogin::ScopedLogin(const Session& session, CK_USER_TYPE user, const SecureBytes& pin, const std::string& token)
    : m_session(&session) {
    const bool so = user == CKU_SO;
    const std::string which = so ? "SO PIN" : "user PIN";
    SecureBytes copy = pin;  // C_Login takes a non-const pointer
    const CK_RV rv = session.fn()->C_Login(session.get(), user, copy.data(), static_cast<CK_ULONG>(copy.size()));
    if (rv == CKR_OK) {
        m_active = true;
        return;
    }
    CK_TOKEN_INFO info{};
    const CK_FLAGS flags = get_token_info(session.fn(), session.slot(), info) == CKR_OK ? info.flags : 0;
    if (rv == CKR_PIN_INCORRECT)
        throw ck_error(Errc::pin_incorrect, "wrong " + which + " for " + token + "; " + tries_left(flags, so),
                       "C_Login", rv);
    if (rv == CKR_PIN_LOCKED)
        throw ck_error(Errc::pin_locked, "the " + which + " of " + token + " is locked", "C_Login", rv);
    Error e = ck_error("C_Login", rv, token);
    throw ck_error(e.errc(), "cannot log in to " + token + " with the " + which + ": " + e.message(), "C_Login", rv);
}

void ScopedLogin::end() noexcept {
    if (m_active) m_session->fn()->C_Logout(m_session->get());
    m_active = false;
}

} // namespace trustkey::backend::pkcs11
