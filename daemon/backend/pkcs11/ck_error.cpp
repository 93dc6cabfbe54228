#include "daemon/backend/pkcs11/ck_error.h"

#include <cstdio>

#include <p11-kit/p11-kit.h>

namespace trustkey::backend::pkcs11 {

Errc errc_for_rv(CK_RV rv) noexcept {
    switch (rv) {
    case CKR_PIN_INCORRECT: return Errc::pin_incorrect;
    case CKR_PIN_LOCKED: return Errc::pin_locked;
    case CKR_USER_NOT_LOGGED_IN: return Errc::pin_required;
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_DEVICE_REMOVED:
    case CKR_SLOT_ID_INVALID: return Errc::token_absent;
    default: return Errc::token_error;
    }
}

std::string rv_text(CK_RV rv) {
    const char* text = p11_kit_strerror(rv);
    char code[32];
    std::snprintf(code, sizeof code, "0x%08lx", static_cast<unsigned long>(rv));
    if (text == nullptr) return std::string("PKCS#11 error ") + code;
    return std::string(text) + " (rv " + code + ")";
}

Error ck_error(const char* call, CK_RV rv, std::string subject) {
    return Error(errc_for_rv(rv), rv_text(rv), rv, call, std::move(subject));
}

bool session_is_broken(CK_RV rv) noexcept {
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_REMOVED ||
           rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR;
}

} // namespace trustkey::backend::pkcs11
