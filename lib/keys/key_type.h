// The key types trustkey holds, their names in the CLI and in TUF metadata, and what a
// sign call's input is (a digest or the whole message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace trustkey::keys {

enum class KeyType : std::uint8_t { ecdsa_p256, rsa_2048, rsa_4096, ed25519 };

// CLI names: "ecdsa", "rsa", "rsa4096", "ed25519".
std::string_view key_type_name(KeyType t) noexcept;
std::optional<KeyType> parse_key_type(std::string_view name) noexcept;
// TUF "keytype": "ecdsa", "rsa", "ed25519".
std::string_view tuf_key_type(KeyType t) noexcept;
// TUF signature "method": "ecdsa", "rsapss", "eddsa".
std::string_view tuf_sig_method(KeyType t) noexcept;
// Length in bytes of a signature made by such a key (64, 256, 512, 64).
std::size_t signature_size(KeyType t) noexcept;

// What `data` in a sign call is: a pre-computed digest, or the whole message (pure EdDSA).
enum class HashAlg : std::uint8_t { sha256, none };
std::size_t digest_size(HashAlg h) noexcept; // 32 for sha256, 0 for none

} // namespace trustkey::keys
