// A login as the user or the security officer for the length of one operation: C_Logout
// when its owner goes. Login state belongs to the token and is shared by every session of
// the process, so this is only for an operation that has the token to itself (the offline
// ceremony's key backup), never for pooled sessions.
#pragma once

#include <string>

#include <p11-kit/pkcs11.h>

#include "lib/backend/pkcs11/session.h"
#include "lib/core/secure_bytes.h"

namespace trustkey::backend::pkcs11 {

class ScopedLogin {
public:
    // Logs in through `session` as `user` (CKU_USER or CKU_SO). `token` names the token in
    // errors ("token L (serial S)"). A refused PIN throws Error(pin_incorrect) saying what
    // the token reports about the tries left; a locked one Error(pin_locked). Never retried.
    ScopedLogin(const Session& session, CK_USER_TYPE user, const SecureBytes& pin, const std::string& token);
    ScopedLogin(const ScopedLogin&) = delete;
    ScopedLogin& operator=(const ScopedLogin&) = delete;
    ~ScopedLogin() { end(); }

    // Logs out now (a token has one login at a time: the SO's must end before the user's).
    void end() noexcept;

private:
    const Session* m_session;
    bool m_active = false;
};

} // namespace trustkey::backend::pkcs11
