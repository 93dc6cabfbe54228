#include "bench/pkcs11_module.h"

#include <dlfcn.h>
#include <p11-kit/p11-kit.h>

#include <algorithm>
#include <cstring>

#include "lib/core/error.h"

namespace trustkey::bench {
namespace {

// DER of the named curve prime256v1 (OID 1.2.840.10045.3.1.7).
constexpr std::uint8_t kP256Params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

template <typename T>
CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, T& value) {
    return CK_ATTRIBUTE{type, &value, sizeof value};
}
CK_ATTRIBUTE attr_bytes(CK_ATTRIBUTE_TYPE type, const void* data, std::size_t size) {
    return CK_ATTRIBUTE{type, const_cast<void*>(data), static_cast<CK_ULONG>(size)};
}

std::string padded_text(const unsigned char* text, std::size_t size) {
    std::string s(reinterpret_cast<const char*>(text), size);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    return s;
}

} // namespace

Pkcs11Module::Pkcs11Module(std::string path) : m_path(std::move(path)) {
    m_library = ::dlopen(m_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!m_library) {
        const char* why = ::dlerror();
        throw Error(Errc::token_error, std::string("cannot load the PKCS#11 module: ") + (why ? why : "?"), 0,
                    "dlopen", m_path);
    }
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(m_library, "C_GetFunctionList"));
    if (!get_list) {
        ::dlclose(m_library);
        throw Error(Errc::token_error, "not a PKCS#11 module (no C_GetFunctionList)", 0, "dlsym", m_path);
    }
    CK_RV rv = get_list(&m_fn);
    if (rv != CKR_OK || !m_fn) {
        ::dlclose(m_library);
        throw Error(Errc::token_error, p11_kit_strerror(rv), rv, "C_GetFunctionList", m_path);
    }
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    rv = m_fn->C_Initialize(&args);
    if (rv != CKR_OK) {
        ::dlclose(m_library);
        throw Error(Errc::token_error, p11_kit_strerror(rv), rv, "C_Initialize", m_path);
    }
    m_initialized = true;
}

Pkcs11Module::~Pkcs11Module() {
    if (m_initialized) m_fn->C_Finalize(nullptr);
    if (m_library) ::dlclose(m_library);
}

void Pkcs11Module::check(const char* call, CK_RV rv) const {
    if (rv == CKR_OK) return;
    Errc e = Errc::token_error;
    if (rv == CKR_PIN_INCORRECT) e = Errc::pin_incorrect;
    else if (rv == CKR_PIN_LOCKED) e = Errc::pin_locked;
    else if (rv == CKR_USER_NOT_LOGGED_IN) e = Errc::pin_required;
    else if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED) e = Errc::token_absent;
    throw Error(e, p11_kit_strerror(rv), rv, call, m_path);
}

CK_SLOT_ID Pkcs11Module::find_slot(std::string_view token_label) const {
    CK_ULONG count = 0;
    check("C_GetSlotList", m_fn->C_GetSlotList(CK_TRUE, nullptr, &count));
    std::vector<CK_SLOT_ID> slots(count);
    check("C_GetSlotList", m_fn->C_GetSlotList(CK_TRUE, slots.data(), &count));
    slots.resize(count);
    for (CK_SLOT_ID slot : slots) {
        CK_TOKEN_INFO info{};
        if (m_fn->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
        if (padded_text(info.label, sizeof info.label) == token_label) return slot;
    }
    throw Error(Errc::token_absent, "no token labelled \"" + std::string(token_label) + "\"", 0, "C_GetTokenInfo",
                m_path);
}

SessionHandle Pkcs11Module::open_session(CK_SLOT_ID slot) const {
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    check("C_OpenSession", m_fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h));
    CK_FUNCTION_LIST_PTR fn = m_fn;
    return SessionHandle(h, [fn](CK_SESSION_HANDLE s) { fn->C_CloseSession(s); });
}

void Pkcs11Module::login(CK_SESSION_HANDLE session, std::string_view pin) const {
    CK_RV rv = m_fn->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())),
                             static_cast<CK_ULONG>(pin.size()));
    if (rv == CKR_USER_ALREADY_LOGGED_IN) return;
    check("C_Login", rv);
}

Pkcs11Module::KeyPair Pkcs11Module::generate_p256(CK_SESSION_HANDLE session, std::string_view label,
                                                  std::span<const std::uint8_t> id) const {
    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no = CK_FALSE;
    CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    std::vector<CK_ATTRIBUTE> pub{attr(CKA_TOKEN, yes), attr(CKA_VERIFY, yes), attr(CKA_PRIVATE, no),
                                  attr_bytes(CKA_EC_PARAMS, kP256Params, sizeof kP256Params),
                                  attr_bytes(CKA_LABEL, label.data(), label.size()),
                                  attr_bytes(CKA_ID, id.data(), id.size())};
    std::vector<CK_ATTRIBUTE> priv{attr(CKA_TOKEN, yes),       attr(CKA_PRIVATE, yes), attr(CKA_SENSITIVE, yes),
                                   attr(CKA_EXTRACTABLE, no), attr(CKA_SIGN, yes),
                                   attr_bytes(CKA_LABEL, label.data(), label.size()),
                                   attr_bytes(CKA_ID, id.data(), id.size())};
    KeyPair kp;
    check("C_GenerateKeyPair",
          m_fn->C_GenerateKeyPair(session, &mech, pub.data(), static_cast<CK_ULONG>(pub.size()), priv.data(),
                                  static_cast<CK_ULONG>(priv.size()), &kp.public_key, &kp.private_key));
    return kp;
}

CK_OBJECT_HANDLE Pkcs11Module::find_object(CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls,
                                           std::string_view label) const {
    CK_ATTRIBUTE templ[] = {attr(CKA_CLASS, cls), attr_bytes(CKA_LABEL, label.data(), label.size())};
    check("C_FindObjectsInit", m_fn->C_FindObjectsInit(session, templ, 2));
    CK_OBJECT_HANDLE found[2] = {CK_INVALID_HANDLE, CK_INVALID_HANDLE};
    CK_ULONG count = 0;
    CK_RV rv = m_fn->C_FindObjects(session, found, 2, &count);
    m_fn->C_FindObjectsFinal(session);
    check("C_FindObjects", rv);
    std::string what = "object labelled \"" + std::string(label) + "\"";
    if (count == 0) throw Error(Errc::not_found, "no " + what, 0, "C_FindObjects", m_path);
    if (count > 1) throw Error(Errc::ambiguous, "more than one " + what, 0, "C_FindObjects", m_path);
    return found[0];
}

Bytes Pkcs11Module::attribute(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const {
    CK_ATTRIBUTE a{type, nullptr, 0};
    check("C_GetAttributeValue", m_fn->C_GetAttributeValue(session, object, &a, 1));
    Bytes value(a.ulValueLen);
    a.pValue = value.data();
    check("C_GetAttributeValue", m_fn->C_GetAttributeValue(session, object, &a, 1));
    value.resize(a.ulValueLen);
    return value;
}

std::size_t Pkcs11Module::sign_ecdsa(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
                                     std::span<const std::uint8_t> digest, std::span<std::uint8_t> out) const {
    CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
    check("C_SignInit", m_fn->C_SignInit(session, &mech, key));
    CK_ULONG len = static_cast<CK_ULONG>(out.size());
    check("C_Sign", m_fn->C_Sign(session, const_cast<CK_BYTE_PTR>(digest.data()), static_cast<CK_ULONG>(digest.size()),
                                 out.data(), &len));
    return len;
}

} // namespace trustkey::bench
