// A PKCS#11 module for tests that stands for a token pulled out of its reader and put back,
// the way OpenSC shows a removed smart card or USB token. It wraps the real SoftHSM2 module
// (every call goes through to it) and, while the file named by TRUSTKEY_TEST_UNPLUG_FILE
// exists, shows the token labelled TRUSTKEY_TEST_UNPLUG_TOKEN (every token when unset) as
// absent:
//   - its slot stays, without CKF_TOKEN_PRESENT; C_GetSlotList(CK_TRUE) leaves it out;
//   - C_GetTokenInfo, C_OpenSession and the other calls on the slot answer CKR_TOKEN_NOT_PRESENT;
//   - at the removal every session on it is closed (so the token is logged out); calls on those
//     sessions answer CKR_DEVICE_REMOVED while it is away and CKR_SESSION_HANDLE_INVALID once
//     it is back, when new sessions work again (logged out).
// Session handles are the module's own, mapped to SoftHSM2's, so a handle from before the
// removal never reaches a session opened after it. TRUSTKEY_TEST_UNPLUG_REAL names the module
// wrapped (default: Debian's SoftHSM2).
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

namespace {

constexpr const char* kDefaultReal = "/usr/lib/softhsm/libsofthsm2.so";

struct MappedSession {
    CK_SESSION_HANDLE real = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;
    bool removed = false;  // its token was pulled while it was open: it never works again
};

struct State {
    std::mutex mutex;
    void* library = nullptr;
    CK_FUNCTION_LIST* real = nullptr;
    CK_FUNCTION_LIST own{};
    std::map<CK_SESSION_HANDLE, MappedSession> sessions;
    CK_SESSION_HANDLE next_handle = 1;
    std::vector<CK_SLOT_ID> pulled_slots;  // the slots of the token the control file pulls
    bool absent = false;                   // as last seen: the control file existed
};

State& state() {
    static State s;
    return s;
}

bool control_file_exists() {
    const char* path = std::getenv("TRUSTKEY_TEST_UNPLUG_FILE");
    struct stat st {};
    return path != nullptr && *path != '\0' && ::stat(path, &st) == 0;
}

bool is_pulled_slot(const State& s, CK_SLOT_ID slot) {
    for (CK_SLOT_ID id : s.pulled_slots)
        if (id == slot) return true;
    return false;
}

// Looks at the control file and acts out a removal when it has just appeared. Under s.mutex.
void sync_presence(State& s) {
    const bool absent_now = control_file_exists();
    if (absent_now && !s.absent) {
        for (auto& [handle, session] : s.sessions)
            if (is_pulled_slot(s, session.slot)) session.removed = true;
        for (CK_SLOT_ID slot : s.pulled_slots) s.real->C_CloseAllSessions(slot);
    }
    s.absent = absent_now;
}

// Whether `slot` shows no token now (syncing first).
bool slot_absent(CK_SLOT_ID slot) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    if (s.real == nullptr) return false;
    sync_presence(s);
    return s.absent && is_pulled_slot(s, slot);
}

std::string unpadded(const CK_UTF8CHAR* text, std::size_t size) {
    std::string out(reinterpret_cast<const char*>(text), size);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

// The slots holding the token the control file pulls.
void find_pulled_slots(State& s) {
    s.pulled_slots.clear();
    const char* wanted = std::getenv("TRUSTKEY_TEST_UNPLUG_TOKEN");
    CK_ULONG count = 0;
    if (s.real->C_GetSlotList(CK_TRUE, nullptr, &count) != CKR_OK) return;
    std::vector<CK_SLOT_ID> slots(count);
    if (count > 0 && s.real->C_GetSlotList(CK_TRUE, slots.data(), &count) != CKR_OK) return;
    slots.resize(count);
    for (CK_SLOT_ID slot : slots) {
        CK_TOKEN_INFO info{};
        if (s.real->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
        if (wanted == nullptr || unpadded(info.label, sizeof info.label) == wanted) s.pulled_slots.push_back(slot);
    }
}

// The real handle behind `handle`, or the return value a pulled token gives.
CK_RV real_session(CK_SESSION_HANDLE handle, CK_SESSION_HANDLE& real) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    if (s.real == nullptr) return CKR_CRYPTOKI_NOT_INITIALIZED;
    sync_presence(s);
    auto it = s.sessions.find(handle);
    if (it == s.sessions.end()) return CKR_SESSION_HANDLE_INVALID;
    if (it->second.removed) return s.absent ? CKR_DEVICE_REMOVED : CKR_SESSION_HANDLE_INVALID;
    real = it->second.real;
    return CKR_OK;
}

// Every call that takes a session handle first: through the map.
template <typename Fn>
struct OnSession;
template <typename... Args>
struct OnSession<CK_RV (*)(CK_SESSION_HANDLE, Args...)> {
    template <auto Field>
    static CK_RV call(CK_SESSION_HANDLE handle, Args... args) {
        CK_SESSION_HANDLE real = CK_INVALID_HANDLE;
        if (const CK_RV rv = real_session(handle, real); rv != CKR_OK) return rv;
        return (state().real->*Field)(real, args...);
    }
};

// Every call that takes a slot first: CKR_TOKEN_NOT_PRESENT while its token is pulled.
template <typename Fn>
struct OnSlot;
template <typename... Args>
struct OnSlot<CK_RV (*)(CK_SLOT_ID, Args...)> {
    template <auto Field>
    static CK_RV call(CK_SLOT_ID slot, Args... args) {
        if (slot_absent(slot)) return CKR_TOKEN_NOT_PRESENT;
        return (state().real->*Field)(slot, args...);
    }
};

CK_RV unplug_initialize(void* args) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    const CK_RV rv = s.real->C_Initialize(args);
    if (rv != CKR_OK) return rv;
    s.sessions.clear();
    find_pulled_slots(s);
    s.absent = false;
    sync_presence(s);
    return CKR_OK;
}

CK_RV unplug_finalize(void* reserved) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    s.sessions.clear();
    return s.real->C_Finalize(reserved);
}

CK_RV unplug_get_slot_list(CK_BBOOL token_present, CK_SLOT_ID* list, CK_ULONG* count) {
    if (count == nullptr) return CKR_ARGUMENTS_BAD;
    State& s = state();
    CK_ULONG n = 0;
    CK_RV rv = s.real->C_GetSlotList(token_present, nullptr, &n);
    if (rv != CKR_OK) return rv;
    std::vector<CK_SLOT_ID> slots(n);
    if (n > 0) rv = s.real->C_GetSlotList(token_present, slots.data(), &n);
    if (rv != CKR_OK) return rv;
    slots.resize(n);
    std::vector<CK_SLOT_ID> shown;
    for (CK_SLOT_ID slot : slots)
        if (!token_present || !slot_absent(slot)) shown.push_back(slot);
    if (list == nullptr) {
        *count = shown.size();
        return CKR_OK;
    }
    if (*count < shown.size()) {
        *count = shown.size();
        return CKR_BUFFER_TOO_SMALL;
    }
    std::copy(shown.begin(), shown.end(), list);
    *count = shown.size();
    return CKR_OK;
}

CK_RV unplug_get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO* info) {
    const CK_RV rv = state().real->C_GetSlotInfo(slot, info);
    if (rv == CKR_OK && slot_absent(slot)) info->flags &= ~static_cast<CK_FLAGS>(CKF_TOKEN_PRESENT);
    return rv;
}

CK_RV unplug_open_session(CK_SLOT_ID slot, CK_FLAGS flags, void* application, CK_NOTIFY notify,
                          CK_SESSION_HANDLE* handle) {
    if (handle == nullptr) return CKR_ARGUMENTS_BAD;
    if (slot_absent(slot)) return CKR_TOKEN_NOT_PRESENT;
    State& s = state();
    CK_SESSION_HANDLE real = CK_INVALID_HANDLE;
    const CK_RV rv = s.real->C_OpenSession(slot, flags, application, notify, &real);
    if (rv != CKR_OK) return rv;
    std::lock_guard lock(s.mutex);
    const CK_SESSION_HANDLE own = s.next_handle++;
    s.sessions.emplace(own, MappedSession{real, slot, false});
    *handle = own;
    return CKR_OK;
}

CK_RV unplug_close_session(CK_SESSION_HANDLE handle) {
    State& s = state();
    std::unique_lock lock(s.mutex);
    sync_presence(s);
    auto it = s.sessions.find(handle);
    if (it == s.sessions.end()) return CKR_SESSION_HANDLE_INVALID;
    const MappedSession session = it->second;
    s.sessions.erase(it);
    lock.unlock();
    if (session.removed) return CKR_OK;  // closed at the removal
    return s.real->C_CloseSession(session.real);
}

CK_RV unplug_close_all_sessions(CK_SLOT_ID slot) {
    if (slot_absent(slot)) return CKR_TOKEN_NOT_PRESENT;
    State& s = state();
    {
        std::lock_guard lock(s.mutex);
        for (auto it = s.sessions.begin(); it != s.sessions.end();)
            it = it->second.slot == slot ? s.sessions.erase(it) : std::next(it);
    }
    return s.real->C_CloseAllSessions(slot);
}

CK_RV unplug_get_session_info(CK_SESSION_HANDLE handle, CK_SESSION_INFO* info) {
    CK_SESSION_HANDLE real = CK_INVALID_HANDLE;
    if (const CK_RV rv = real_session(handle, real); rv != CKR_OK) return rv;
    return state().real->C_GetSessionInfo(real, info);
}

CK_RV unplug_get_function_list(CK_FUNCTION_LIST** list);

bool load_real(State& s) {
    if (s.real != nullptr) return true;
    const char* path = std::getenv("TRUSTKEY_TEST_UNPLUG_REAL");
    s.library = ::dlopen(path != nullptr && *path != '\0' ? path : kDefaultReal, RTLD_NOW | RTLD_LOCAL);
    if (s.library == nullptr) return false;
    // Once it serves, the real module stays loaded for the process's life, as a PKCS#11
    // module a process has loaded does; one that does not serve is closed at once.
    auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(s.library, "C_GetFunctionList"));
    CK_FUNCTION_LIST* real = nullptr;
    if (get == nullptr || get(&real) != CKR_OK || real == nullptr) {
        ::dlclose(s.library);
        s.library = nullptr;
        return false;
    }
    s.real = real;
    s.own = *real;
#define TRUSTKEY_ON_SESSION(name) \
    s.own.name = &OnSession<decltype(CK_FUNCTION_LIST::name)>::template call<&CK_FUNCTION_LIST::name>
#define TRUSTKEY_ON_SLOT(name) \
    s.own.name = &OnSlot<decltype(CK_FUNCTION_LIST::name)>::template call<&CK_FUNCTION_LIST::name>
    s.own.C_Initialize = &unplug_initialize;
    s.own.C_Finalize = &unplug_finalize;
    s.own.C_GetFunctionList = &unplug_get_function_list;
    s.own.C_GetSlotList = &unplug_get_slot_list;
    s.own.C_GetSlotInfo = &unplug_get_slot_info;
    TRUSTKEY_ON_SLOT(C_GetTokenInfo);
    TRUSTKEY_ON_SLOT(C_GetMechanismList);
    TRUSTKEY_ON_SLOT(C_GetMechanismInfo);
    TRUSTKEY_ON_SLOT(C_InitToken);
    s.own.C_OpenSession = &unplug_open_session;
    s.own.C_CloseSession = &unplug_close_session;
    s.own.C_CloseAllSessions = &unplug_close_all_sessions;
    s.own.C_GetSessionInfo = &unplug_get_session_info;
    TRUSTKEY_ON_SESSION(C_InitPIN);
    TRUSTKEY_ON_SESSION(C_SetPIN);
    TRUSTKEY_ON_SESSION(C_GetOperationState);
    TRUSTKEY_ON_SESSION(C_SetOperationState);
    TRUSTKEY_ON_SESSION(C_Login);
    TRUSTKEY_ON_SESSION(C_Logout);
    TRUSTKEY_ON_SESSION(C_CreateObject);
    TRUSTKEY_ON_SESSION(C_CopyObject);
    TRUSTKEY_ON_SESSION(C_DestroyObject);
    TRUSTKEY_ON_SESSION(C_GetObjectSize);
    TRUSTKEY_ON_SESSION(C_GetAttributeValue);
    TRUSTKEY_ON_SESSION(C_SetAttributeValue);
    TRUSTKEY_ON_SESSION(C_FindObjectsInit);
    TRUSTKEY_ON_SESSION(C_FindObjects);
    TRUSTKEY_ON_SESSION(C_FindObjectsFinal);
    TRUSTKEY_ON_SESSION(C_EncryptInit);
    TRUSTKEY_ON_SESSION(C_Encrypt);
    TRUSTKEY_ON_SESSION(C_EncryptUpdate);
    TRUSTKEY_ON_SESSION(C_EncryptFinal);
    TRUSTKEY_ON_SESSION(C_DecryptInit);
    TRUSTKEY_ON_SESSION(C_Decrypt);
    TRUSTKEY_ON_SESSION(C_DecryptUpdate);
    TRUSTKEY_ON_SESSION(C_DecryptFinal);
    TRUSTKEY_ON_SESSION(C_DigestInit);
    TRUSTKEY_ON_SESSION(C_Digest);
    TRUSTKEY_ON_SESSION(C_DigestUpdate);
    TRUSTKEY_ON_SESSION(C_DigestKey);
    TRUSTKEY_ON_SESSION(C_DigestFinal);
    TRUSTKEY_ON_SESSION(C_SignInit);
    TRUSTKEY_ON_SESSION(C_Sign);
    TRUSTKEY_ON_SESSION(C_SignUpdate);
    TRUSTKEY_ON_SESSION(C_SignFinal);
    TRUSTKEY_ON_SESSION(C_SignRecoverInit);
    TRUSTKEY_ON_SESSION(C_SignRecover);
    TRUSTKEY_ON_SESSION(C_VerifyInit);
    TRUSTKEY_ON_SESSION(C_Verify);
    TRUSTKEY_ON_SESSION(C_VerifyUpdate);
    TRUSTKEY_ON_SESSION(C_VerifyFinal);
    TRUSTKEY_ON_SESSION(C_VerifyRecoverInit);
    TRUSTKEY_ON_SESSION(C_VerifyRecover);
    TRUSTKEY_ON_SESSION(C_DigestEncryptUpdate);
    TRUSTKEY_ON_SESSION(C_DecryptDigestUpdate);
    TRUSTKEY_ON_SESSION(C_SignEncryptUpdate);
    TRUSTKEY_ON_SESSION(C_DecryptVerifyUpdate);
    TRUSTKEY_ON_SESSION(C_GenerateKey);
    TRUSTKEY_ON_SESSION(C_GenerateKeyPair);
    TRUSTKEY_ON_SESSION(C_WrapKey);
    TRUSTKEY_ON_SESSION(C_UnwrapKey);
    TRUSTKEY_ON_SESSION(C_DeriveKey);
    TRUSTKEY_ON_SESSION(C_SeedRandom);
    TRUSTKEY_ON_SESSION(C_GenerateRandom);
    TRUSTKEY_ON_SESSION(C_GetFunctionStatus);
    TRUSTKEY_ON_SESSION(C_CancelFunction);
#undef TRUSTKEY_ON_SESSION
#undef TRUSTKEY_ON_SLOT
    return true;
}

CK_RV unplug_get_function_list(CK_FUNCTION_LIST** list) {
    if (list == nullptr) return CKR_ARGUMENTS_BAD;
    State& s = state();
    std::lock_guard lock(s.mutex);
    if (!load_real(s)) return CKR_GENERAL_ERROR;
    *list = &s.own;
    return CKR_OK;
}

} // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST** list) {
    return unplug_get_function_list(list);
}
