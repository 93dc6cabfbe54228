#include "lib/backend/pkcs11/object_attributes.h"

#include "lib/backend/pkcs11/ck_error.h"

namespace trustkey::backend::pkcs11 {

std::optional<Bytes> read_attribute(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                                    CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE a{type, nullptr, 0};
    CK_RV rv = fn->C_GetAttributeValue(session, object, &a, 1);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) return std::nullopt;
    check_rv("C_GetAttributeValue", rv);
    if (a.ulValueLen == static_cast<CK_ULONG>(-1)) return std::nullopt;
    Bytes value(a.ulValueLen);
    a.pValue = value.data();
    check_rv("C_GetAttributeValue", fn->C_GetAttributeValue(session, object, &a, 1));
    value.resize(a.ulValueLen);
    return value;
}

std::optional<CK_ULONG> read_ulong(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                                   CK_ATTRIBUTE_TYPE type) {
    CK_ULONG value = 0;
    CK_ATTRIBUTE a{type, &value, sizeof value};
    CK_RV rv = fn->C_GetAttributeValue(session, object, &a, 1);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) return std::nullopt;
    check_rv("C_GetAttributeValue", rv);
    return value;
}

} // namespace trustkey::backend::pkcs11
