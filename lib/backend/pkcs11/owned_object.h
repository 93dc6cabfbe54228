// A key or other object an operation made on a token (often a session object), destroyed
// when its owner goes unless release() hands it over. Destroy it before closing its session.
#pragma once

#include <p11-kit/pkcs11.h>

namespace trustkey::backend::pkcs11 {

class OwnedObject {
public:
    OwnedObject() = default;
    OwnedObject(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) noexcept
        : m_fn(fn), m_session(session), m_object(object) {}
    OwnedObject(const OwnedObject&) = delete;
    OwnedObject& operator=(const OwnedObject&) = delete;
    OwnedObject(OwnedObject&& o) noexcept;
    OwnedObject& operator=(OwnedObject&& o) noexcept;
    ~OwnedObject() { reset(); }

    CK_OBJECT_HANDLE get() const noexcept { return m_object; }
    // Keeps the object on the token; the caller owns it now.
    CK_OBJECT_HANDLE release() noexcept;
    // Destroys the object now (errors are ignored: the session may already be gone).
    void reset() noexcept;

private:
    CK_FUNCTION_LIST* m_fn = nullptr;
    CK_SESSION_HANDLE m_session = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE m_object = CK_INVALID_HANDLE;
};

} // namespace trustkey::backend::pkcs11
