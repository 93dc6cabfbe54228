// A PKCS#11 module loaded with dlopen and initialized for multi-threaded use,
// with the handful of calls the benchmark needs. One instance per module path.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/encoding.h"
#include "lib/core/unique_handle.h"

namespace trustkey::bench {

using SessionHandle = UniqueHandle<CK_SESSION_HANDLE, CK_INVALID_HANDLE>;

class Pkcs11Module {
public:
    // dlopen + C_GetFunctionList + C_Initialize (OS locking). Throws Errc::token_error.
    explicit Pkcs11Module(std::string path);
    Pkcs11Module(const Pkcs11Module&) = delete;
    Pkcs11Module& operator=(const Pkcs11Module&) = delete;
    ~Pkcs11Module();  // C_Finalize (the library stays mapped: RTLD_NODELETE)

    const std::string& path() const noexcept { return m_path; }

    // The slot whose token has this label. Throws Errc::token_absent.
    CK_SLOT_ID find_slot(std::string_view token_label) const;
    // A read-write session, closed by its owner.
    SessionHandle open_session(CK_SLOT_ID slot) const;
    // User login; "already logged in" (login is per token and process) counts as success.
    void login(CK_SESSION_HANDLE session, std::string_view pin) const;

    struct KeyPair {
        CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
        CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
    };
    // A token-resident ECDSA P-256 key pair (private half sensitive, non-extractable).
    KeyPair generate_p256(CK_SESSION_HANDLE session, std::string_view label, std::span<const std::uint8_t> id) const;
    // The one object of `cls` with this label. Throws Errc::not_found / Errc::ambiguous.
    CK_OBJECT_HANDLE find_object(CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls, std::string_view label) const;
    // A byte-array attribute (two-call size query).
    Bytes attribute(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;

    // C_SignInit(CKM_ECDSA) + C_Sign over a 32-byte digest into `out` (64 bytes: r||s).
    // Returns the signature length.
    std::size_t sign_ecdsa(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, std::span<const std::uint8_t> digest,
                           std::span<std::uint8_t> out) const;

private:
    void check(const char* call, CK_RV rv) const;

    std::string m_path;
    void* m_library = nullptr;
    CK_FUNCTION_LIST_PTR m_fn = nullptr;
    bool m_initialized = false;
};

} // namespace trustkey::bench
