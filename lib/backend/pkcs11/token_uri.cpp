#include "lib/backend/pkcs11/token_uri.h"

#include <vector>

#include <p11-kit/p11-kit.h>

#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/token_info.h"

namespace trustkey::backend::pkcs11 {

namespace {

std::string padded(const CK_UTF8CHAR* text, std::size_t size) {
    return std::string(reinterpret_cast<const char*>(text), p11_kit_space_strlen(text, size));
}

std::string describe(const std::vector<TokenSlot>& tokens) {
    std::string out;
    for (const TokenSlot& t : tokens) {
        if (!out.empty()) out += ", ";
        out += "'" + t.label + "' (serial " + t.serial + ")";
    }
    return out;
}

} // namespace

TokenUri::TokenUri(std::string uri) : m_text(uri.empty() ? "pkcs11:" : std::move(uri)), m_parsed(p11_kit_uri_new()) {
    if (!m_parsed) throw Error(Errc::internal, "out of memory", 0, "p11_kit_uri_new");
    const int rc = p11_kit_uri_parse(m_text.c_str(), P11_KIT_URI_FOR_TOKEN, m_parsed.get());
    if (rc != P11_KIT_URI_OK)
        throw Error(Errc::config, "bad PKCS#11 token URI " + m_text + ": " + p11_kit_uri_message(rc),
                    static_cast<std::uint64_t>(rc), "p11_kit_uri_parse", m_text);
}

bool TokenUri::matches(const CK_TOKEN_INFO& info) const noexcept {
    // p11-kit takes a non-const pointer but only reads the token info.
    CK_TOKEN_INFO copy = info;
    return p11_kit_uri_match_token_info(m_parsed.get(), &copy) == 1;
}

TokenSlot token_slot_of(CK_SLOT_ID slot, const CK_TOKEN_INFO& info) {
    return TokenSlot{slot, (info.flags & CKF_TOKEN_INITIALIZED) != 0, padded(info.label, sizeof info.label),
                     padded(info.serialNumber, sizeof info.serialNumber),
                     padded(info.manufacturerID, sizeof info.manufacturerID), padded(info.model, sizeof info.model)};
}

TokenSlot find_token(CK_FUNCTION_LIST* fn, const TokenUri& uri) {
    CK_ULONG count = 0;
    check_rv("C_GetSlotList", fn->C_GetSlotList(CK_TRUE, nullptr, &count), uri.text());
    std::vector<CK_SLOT_ID> ids(count);
    if (count > 0) check_rv("C_GetSlotList", fn->C_GetSlotList(CK_TRUE, ids.data(), &count), uri.text());
    ids.resize(count);
    std::vector<TokenSlot> found;
    for (CK_SLOT_ID id : ids) {
        CK_TOKEN_INFO info{};
        if (get_token_info(fn, id, info) != CKR_OK || !(info.flags & CKF_TOKEN_INITIALIZED)) continue;
        if (uri.matches(info)) found.push_back(token_slot_of(id, info));
    }
    if (found.empty())
        throw ck_error(Errc::token_absent, "no present token matches " + uri.text(), "C_GetSlotList",
                       CKR_TOKEN_NOT_PRESENT, uri.text());
    if (found.size() > 1)
        throw Error(Errc::config, "token URI " + uri.text() + " matches " + std::to_string(found.size()) +
                                      " tokens: " + describe(found) +
                                      "; add serial= or token= to the URI to name one");
    return found.front();
}

TokenSlot find_token(const std::filesystem::path& module, const std::string& uri) {
    const TokenUri parsed(uri);
    const std::shared_ptr<Module> m = Module::open(module);
    return find_token(m->fn(), parsed);
}

} // namespace trustkey::backend::pkcs11
