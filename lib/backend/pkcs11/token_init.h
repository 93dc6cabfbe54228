// Listing a module's slots and initializing a token (SO PIN, label, user PIN), for tools
// that set tokens up (the ceremony's `token init`). Free of PKCS#11 headers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/secure_bytes.h"

namespace trustkey::backend::pkcs11 {

struct TokenSlot {
    std::uint64_t id = 0;
    bool initialized = false;
    std::string label;
    std::string serial;
    std::string manufacturer;
    std::string model;
};

// The slots of `module` that hold a token.
std::vector<TokenSlot> list_token_slots(const std::filesystem::path& module);

// The one present, initialized token of `module` matching the RFC 7512 `uri`
// (token_uri.h): token_absent when none matches; config when the URI does not parse or
// several tokens match (the message names them and how to narrow the URI).
TokenSlot find_token(const std::filesystem::path& module, const std::string& uri);

// C_InitToken on `slot` with the SO PIN and `label` (erasing everything on an initialized
// token), then sets the user PIN as the SO. Returns the token as found afterwards (a
// module may move it to another slot id). Throws pin_incorrect for a wrong SO PIN,
// invalid_argument for a label over 32 bytes, token errors as the module reports them.
TokenSlot init_token(const std::filesystem::path& module, std::uint64_t slot, std::string_view label,
                     const SecureBytes& so_pin, const SecureBytes& user_pin);

} // namespace trustkey::backend::pkcs11
