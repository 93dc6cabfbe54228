#include "lib/backend/pkcs11/owned_object.h"

#include <utility>

namespace trustkey::backend::pkcs11 {

OwnedObject::OwnedObject(OwnedObject&& o) noexcept
    : m_fn(o.m_fn), m_session(o.m_session), m_object(std::exchange(o.m_object, CK_INVALID_HANDLE)) {}

OwnedObject& OwnedObject::operator=(OwnedObject&& o) noexcept {
    if (this != &o) {
        reset();
        m_fn = o.m_fn;
        m_session = o.m_session;
        m_object = std::exchange(o.m_object, CK_INVALID_HANDLE);
    }
    return *this;
}

CK_OBJECT_HANDLE OwnedObject::release() noexcept { return std::exchange(m_object, CK_INVALID_HANDLE); }

void OwnedObject::reset() noexcept {
    if (m_object != CK_INVALID_HANDLE && m_fn != nullptr) m_fn->C_DestroyObject(m_session, m_object);
    m_object = CK_INVALID_HANDLE;
}

} // namespace trustkey::backend::pkcs11
