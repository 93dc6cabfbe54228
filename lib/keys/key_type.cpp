#include "lib/keys/key_type.h"

namespace trustkey::keys {

std::string_view key_type_name(KeyType t) noexcept {
    switch (t) {
    case KeyType::ecdsa_p256: return "ecdsa";
    case KeyType::rsa_2048: return "rsa";
    case KeyType::rsa_4096: return "rsa4096";
    case KeyType::ed25519: return "ed25519";
    }
    return "unknown";
}

std::optional<KeyType> parse_key_type(std::string_view name) noexcept {
    if (name == "ecdsa" || name == "ecdsa-p256" || name == "p256") return KeyType::ecdsa_p256;
    if (name == "rsa" || name == "rsa2048") return KeyType::rsa_2048;
    if (name == "rsa4096") return KeyType::rsa_4096;
    if (name == "ed25519") return KeyType::ed25519;
    return std::nullopt;
}

std::string_view tuf_key_type(KeyType t) noexcept {
    switch (t) {
    case KeyType::ecdsa_p256: return "ecdsa";
    case KeyType::rsa_2048:
    case KeyType::rsa_4096: return "rsa";
    case KeyType::ed25519: return "ed25519";
    }
    return "unknown";
}

std::string_view tuf_sig_method(KeyType t) noexcept {
    switch (t) {
    case KeyType::ecdsa_p256: return "ecdsa";
    case KeyType::rsa_2048:
    case KeyType::rsa_4096: return "rsapss";
    case KeyType::ed25519: return "eddsa";
    }
    return "unknown";
}

std::size_t signature_size(KeyType t) noexcept {
    switch (t) {
    case KeyType::ecdsa_p256: return 64;
    case KeyType::rsa_2048: return 256;
    case KeyType::rsa_4096: return 512;
    case KeyType::ed25519: return 64;
    }
    return 0;
}

std::size_t digest_size(HashAlg h) noexcept { return h == HashAlg::sha256 ? 32 : 0; }

} // namespace trustkey::keys
