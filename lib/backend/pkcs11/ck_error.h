// PKCS#11 return values as trustkey errors: the CK_RV is kept in Error::code(),
// the call name in call(), the key id or token in subject().
#pragma once

#include <string>

#include <p11-kit/pkcs11.h>

#include "lib/core/error.h"

namespace trustkey::backend::pkcs11 {

Errc errc_for_rv(CK_RV rv) noexcept;
// Text for a return value, from p11-kit ("The PIN is incorrect" …).
std::string rv_text(CK_RV rv);
// The constant's name ("CKR_PIN_INCORRECT"), or the value in hex for one without a name here.
std::string rv_name(CK_RV rv);
// The error for a failed PKCS#11 call: domain pkcs11, code `rv` and its name.
Error ck_error(const char* call, CK_RV rv, std::string subject = {});
// The same with trustkey's own reading of it: `errc` and `message` instead of rv's text.
Error ck_error(Errc errc, std::string message, const char* call, CK_RV rv, std::string subject = {});
// Throws ck_error() unless rv is CKR_OK.
inline void check_rv(const char* call, CK_RV rv, const std::string& subject = {}) {
    if (rv != CKR_OK) throw ck_error(call, rv, subject);
}
// True for return values after which a session cannot be used again.
bool session_is_broken(CK_RV rv) noexcept;

} // namespace trustkey::backend::pkcs11
