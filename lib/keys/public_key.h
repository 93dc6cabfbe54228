// Public key forms: DER SubjectPublicKeyInfo (the stored form), PEM, TUF key
// JSON and the TUF key id; and OpenSSL verification of TUF-form signatures.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "lib/core/encoding.h"
#include "lib/keys/key_type.h"

namespace trustkey::keys {

// Key type of a SubjectPublicKeyInfo; throws bad_key_format / unsupported_algorithm.
KeyType key_type_of_spki(std::span<const std::uint8_t> spki_der);
// "-----BEGIN <label>-----" PEM of `der`: base64 in 64-character lines, final newline.
std::string pem_armor(std::string_view label, std::span<const std::uint8_t> der);
// "-----BEGIN PUBLIC KEY-----" PEM, 64-character lines, final newline.
std::string spki_to_pem(std::span<const std::uint8_t> spki_der);
// Canonical TUF key JSON: {"keytype":T,"keyval":{"private":null,"public":B64}}.
// "public" is the DER SPKI for ecdsa/rsa and the raw 32 bytes for ed25519.
std::string tuf_key_json(KeyType type, std::span<const std::uint8_t> spki_der);
// Lower-case hex SHA-256 of tuf_key_json().
std::string tuf_key_id(KeyType type, std::span<const std::uint8_t> spki_der);
// Verifies a TUF-form signature with OpenSSL (ECDSA raw r||s over a SHA-256 digest,
// RSA-PSS SHA-256 salt 32, Ed25519 over the message).
bool verify_signature(KeyType type, std::span<const std::uint8_t> spki_der, HashAlg hash,
                      std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature);

} // namespace trustkey::keys
