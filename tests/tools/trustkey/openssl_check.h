// Independent checks of what the CLI prints, with OpenSSL (library and the
// `openssl` program): hashes, PEM bodies, signature verification.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fixtures/fixture_io.h"

namespace trustkey::test {

using ByteVec = std::vector<std::uint8_t>;

ByteVec to_bytes(std::string_view s);
std::string sha256_hex(std::string_view data);
ByteVec sha256_bytes(std::string_view data);
// Standard base64 with '=' padding, with OpenSSL.
std::string base64_encode(const ByteVec& data);
// Standard base64 decoding with OpenSSL; throws on bad input.
ByteVec base64_decode(std::string_view b64);
// The DER inside a "-----BEGIN PUBLIC KEY-----" PEM.
ByteVec pem_body(std::string_view pem);
// ECDSA raw r||s (64 bytes) to the DER Ecdsa-Sig-Value OpenSSL verifies.
ByteVec ecdsa_raw_to_der(const ByteVec& raw);

void write_file(const std::filesystem::path& path, std::string_view data);
void write_file(const std::filesystem::path& path, const ByteVec& data);

// Verifies a TUF-form signature made by a key of CLI type `type` ("ecdsa", "rsa",
// "rsa4096", "ed25519") with `openssl pkeyutl -verify`. `data` is the SHA-256 digest
// for ecdsa/rsa and the message for ed25519. Returns true only when openssl says so.
bool openssl_verify(const std::string& type, const std::filesystem::path& public_pem, const ByteVec& data,
                    const ByteVec& tuf_signature, const std::filesystem::path& work_dir);

// TUF key id computed here from the DER SPKI: sha256 of the canonical key JSON
// (for ed25519 "public" is the raw 32-byte key, the end of the SPKI).
std::string expected_tuf_key_id(const std::string& cli_type, const ByteVec& spki_der);

// DER SPKI of the public half of a private key file, from `openssl pkey -pubout`.
ByteVec public_der_of_private_key(const std::filesystem::path& key_file, const std::string& passphrase = {});

} // namespace trustkey::test
