#include "tools/trustkey/key_types.h"

namespace trustkey::tools {

namespace pb = proto::pb;

std::optional<backend::KeyType> to_backend_type(pb::KeyType type) noexcept {
    switch (type) {
    case pb::KEY_TYPE_ECDSA_P256: return backend::KeyType::ecdsa_p256;
    case pb::KEY_TYPE_RSA_2048: return backend::KeyType::rsa_2048;
    case pb::KEY_TYPE_RSA_4096: return backend::KeyType::rsa_4096;
    case pb::KEY_TYPE_ED25519: return backend::KeyType::ed25519;
    default: return std::nullopt;
    }
}

std::string_view key_type_label(pb::KeyType type) noexcept {
    const auto t = to_backend_type(type);
    return t ? backend::key_type_name(*t) : std::string_view("unknown");
}

std::optional<pb::KeyType> parse_key_type_label(std::string_view label) noexcept {
    const auto t = backend::parse_key_type(label);
    if (!t) return std::nullopt;
    switch (*t) {
    case backend::KeyType::ecdsa_p256: return pb::KEY_TYPE_ECDSA_P256;
    case backend::KeyType::rsa_2048: return pb::KEY_TYPE_RSA_2048;
    case backend::KeyType::rsa_4096: return pb::KEY_TYPE_RSA_4096;
    case backend::KeyType::ed25519: return pb::KEY_TYPE_ED25519;
    }
    return std::nullopt;
}

} // namespace trustkey::tools
