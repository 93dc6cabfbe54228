#include "lib/backend/pkcs11/session.h"

#include <utility>

#include "lib/backend/pkcs11/ck_error.h"

namespace trustkey::backend::pkcs11 {

Session::Session(std::shared_ptr<Module> module, CK_SLOT_ID slot) : m_module(std::move(module)), m_slot(slot) {
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    check_rv("C_OpenSession",
             m_module->fn()->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h));
    m_handle = h;
}

Session::Session(Session&& o) noexcept
    : m_module(std::move(o.m_module)), m_slot(o.m_slot), m_handle(std::exchange(o.m_handle, CK_INVALID_HANDLE)) {}

Session& Session::operator=(Session&& o) noexcept {
    if (this != &o) {
        close();
        m_module = std::move(o.m_module);
        m_slot = o.m_slot;
        m_handle = std::exchange(o.m_handle, CK_INVALID_HANDLE);
    }
    return *this;
}

Session::~Session() { close(); }

void Session::close() noexcept {
    if (m_handle != CK_INVALID_HANDLE && m_module) m_module->fn()->C_CloseSession(m_handle);
    m_handle = CK_INVALID_HANDLE;
}

} // namespace trustkey::backend::pkcs11
