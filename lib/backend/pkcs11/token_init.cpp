#include "lib/backend/pkcs11/token_init.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/session.h"
#include "lib/backend/pkcs11/token_uri.h"
#include "lib/backend/pkcs11/token_info.h"
#include "lib/core/error.h"

namespace trustkey::backend::pkcs11 {

namespace {

std::vector<TokenSlot> slots_of(CK_FUNCTION_LIST* fn) {
    CK_ULONG count = 0;
    check_rv("C_GetSlotList", fn->C_GetSlotList(CK_TRUE, nullptr, &count));
    std::vector<CK_SLOT_ID> ids(count);
    if (count > 0) check_rv("C_GetSlotList", fn->C_GetSlotList(CK_TRUE, ids.data(), &count));
    ids.resize(count);
    std::vector<TokenSlot> out;
    for (CK_SLOT_ID id : ids) {
        CK_TOKEN_INFO info{};
        if (get_token_info(fn, id, info) != CKR_OK) continue;
        out.push_back(token_slot_of(id, info));
    }
    return out;
}

} // namespace

std::vector<TokenSlot> list_token_slots(const std::filesystem::path& module) {
    const std::shared_ptr<Module> m = Module::open(module);
    return slots_of(m->fn());
}

TokenSlot init_token(const std::filesystem::path& module, std::uint64_t slot, std::string_view label,
                     const SecureBytes& so_pin, const SecureBytes& user_pin) {
    if (label.empty() || label.size() > 32)
        throw Error(Errc::invalid_argument, "a token label has 1 to 32 bytes");
    const std::shared_ptr<Module> m = Module::open(module);
    CK_FUNCTION_LIST* fn = m->fn();
    std::set<std::string> before;
    for (const TokenSlot& s : slots_of(fn))
        if (s.initialized && s.id != slot) before.insert(s.serial);

    CK_UTF8CHAR padded_label[32];
    std::memset(padded_label, ' ', sizeof padded_label);
    std::memcpy(padded_label, label.data(), label.size());
    SecureBytes so = so_pin, user = user_pin;
    const std::string subject = "slot " + std::to_string(slot);
    check_rv("C_InitToken", fn->C_InitToken(slot, so.data(), static_cast<CK_ULONG>(so.size()), padded_label), subject);

    // The token as it is now: the one with this label that no other slot held before.
    std::optional<TokenSlot> found;
    for (const TokenSlot& s : slots_of(fn))
        if (s.initialized && s.label == label && !before.contains(s.serial)) found = s;
    if (!found) throw Error(Errc::token_error, "the token initialized in " + subject + " cannot be found", 0,
                            "C_GetSlotList", subject);
    Session session(m, found->id);
    check_rv("C_Login", fn->C_Login(session.get(), CKU_SO, so.data(), static_cast<CK_ULONG>(so.size())), subject);
    const CK_RV rv = fn->C_InitPIN(session.get(), user.data(), static_cast<CK_ULONG>(user.size()));
    fn->C_Logout(session.get());
    check_rv("C_InitPIN", rv, subject);
    return *found;
}

} // namespace trustkey::backend::pkcs11
