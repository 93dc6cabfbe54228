// An open PKCS#11 session, closed (never logged out) when its owner goes.
#pragma once

#include <memory>

#include <p11-kit/pkcs11.h>

#include "lib/backend/pkcs11/module.h"

namespace trustkey::backend::pkcs11 {

class Session {
public:
    // Opens a read-write session on `slot`; throws ck_error on failure.
    Session(std::shared_ptr<Module> module, CK_SLOT_ID slot);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    Session(Session&& o) noexcept;
    Session& operator=(Session&& o) noexcept;
    ~Session();

    CK_SESSION_HANDLE get() const noexcept { return m_handle; }
    CK_FUNCTION_LIST* fn() const noexcept { return m_module->fn(); }
    CK_SLOT_ID slot() const noexcept { return m_slot; }

private:
    void close() noexcept;

    std::shared_ptr<Module> m_module;
    CK_SLOT_ID m_slot = 0;
    CK_SESSION_HANDLE m_handle = CK_INVALID_HANDLE;
};

} // namespace trustkey::backend::pkcs11
