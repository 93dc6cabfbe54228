// Helpers for backend tests that check results with the openssl command line,
// independently of the code under test.
#pragma once

#include <filesystem>
#include <string>

#include "lib/core/encoding.h"

namespace trustkey::test {

// Runs `command` and fails the test (via exception) unless it exits 0; returns its output.
std::string must_run(const std::string& command);
std::string read_text(const std::filesystem::path& path);
void write_bytes(const std::filesystem::path& path, std::span<const std::uint8_t> data);
// Generates a private key with `openssl genpkey`: "ecdsa", "rsa", "rsa4096" or "ed25519". PKCS#8 PEM.
void generate_pem(const std::string& kind, const std::filesystem::path& out);
// DER SubjectPublicKeyInfo of a PEM private key, as `openssl pkey -pubout -outform DER` writes it.
Bytes cli_spki_der(const std::filesystem::path& private_pem);
// TUF key id of a PEM public or private key computed by openssl, base64, printf and sha256sum.
std::string cli_key_id(const std::filesystem::path& pem, bool is_public, const std::string& tuf_keytype);

// An X.509 certificate (PEM) with subject CN=`common_name` for the public key in
// `public_pem`, issued by a throwaway key (`openssl x509 -new -force_pubkey`).
void make_certificate(const std::filesystem::path& public_pem, const std::string& common_name,
                      const std::filesystem::path& out);
// The TUF id of the certificate as an `x509_keytype` key ("ecdsa-x509"), computed by base64,
// printf and sha256sum over the PEM file as openssl wrote it.
std::string cli_certificate_id(const std::filesystem::path& cert_pem, const std::string& x509_keytype);

} // namespace trustkey::test
