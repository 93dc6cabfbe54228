// Key type names as the command line spells them, and the mapping between the
// protocol's key types and the key library's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lib/keys/key_type.h"
#include "trustkey/proto/codec.h"

namespace trustkey::tools {

// "ecdsa", "rsa", "rsa4096", "ed25519"; "unknown" for anything else.
std::string_view key_type_label(proto::pb::KeyType type) noexcept;
// Parses a --type value; nullopt when unknown.
std::optional<proto::pb::KeyType> parse_key_type_label(std::string_view label) noexcept;
// nullopt for KEY_TYPE_UNSPECIFIED or a value this tool does not know.
std::optional<keys::KeyType> to_key_type(proto::pb::KeyType type) noexcept;

} // namespace trustkey::tools
