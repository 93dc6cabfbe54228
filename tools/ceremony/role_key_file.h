// Public keys of the online roles (targets, snapshot, timestamp) as the online side hands
// them over: a PEM public key, a PEM certificate, or TUF key JSON (what the notary server
// answers for GET …/<role>.key).
#pragma once

#include <filesystem>
#include <string_view>

#include "tools/trust/tuf/key.h"

namespace trustkey::ceremony {

// Throws Error(bad_key_format) naming the role and the file when it is none of these.
tuf::Key load_role_key(const std::filesystem::path& path, std::string_view role);

} // namespace trustkey::ceremony
