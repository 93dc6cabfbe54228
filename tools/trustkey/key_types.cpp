#include "tools/trustkey/key_types.h"

namespace trustkey::tools {

namespace pb = proto::pb;

std::optional<keys::KeyType> to_key_type(pb::KeyType type) noexcept {
    switch (type) {
    case pb::KEY_TYPE_ECDSA_P256: return keys::KeyType::ecdsa_p256;
    case pb::KEY_TYPE_RSA_2048: return keys::KeyType::rsa_2048;
    case pb::KEY_TYPE_RSA_4096: return keys::KeyType::rsa_4096;
    case pb::KEY_TYPE_ED25519: return keys::KeyType::ed25519;
    default: return std::nullopt;
    }
}

std::string_view key_type_label(pb::KeyType type) noexcept {
    const auto t = to_key_type(type);
    return t ? keys::key_type_name(*t) : std::string_view("unknown");
}

std::optional<pb::KeyType> parse_key_type_label(std::string_view label) noexcept {
    const auto t = keys::parse_key_type(label);
    if (!t) return std::nullopt;
    switch (*t) {
    case keys::KeyType::ecdsa_p256: return pb::KEY_TYPE_ECDSA_P256;
    case keys::KeyType::rsa_2048: return pb::KEY_TYPE_RSA_2048;
    case keys::KeyType::rsa_4096: return pb::KEY_TYPE_RSA_4096;
    case keys::KeyType::ed25519: return pb::KEY_TYPE_ED25519;
    }
    return std::nullopt;
}

} // namespace trustkey::tools
