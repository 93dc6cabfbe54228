// Reading attribute values of PKCS#11 objects.
#pragma once

#include <optional>
#include <string>

#include <p11-kit/pkcs11.h>

#include "lib/core/encoding.h"

namespace trustkey::backend::pkcs11 {

// The value of one attribute; nullopt when the object does not have it or it
// is sensitive. Other failures throw.
std::optional<Bytes> read_attribute(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                                    CK_ATTRIBUTE_TYPE type);
// A CK_ULONG attribute (CKA_CLASS, CKA_KEY_TYPE …); nullopt when absent.
std::optional<CK_ULONG> read_ulong(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                                   CK_ATTRIBUTE_TYPE type);

// An attribute pointing at `value` (which must outlive its use).
inline CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const void* value, std::size_t len) {
    return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(len)};
}
template <typename T>
CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const T& value) {
    return attr(type, &value, sizeof value);
}

} // namespace trustkey::backend::pkcs11
