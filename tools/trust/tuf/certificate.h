// Self-signed x509 certificates for root keys, made without the private key:
// the to-be-signed part is built here and signed by a caller's signer (a token key).
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "lib/core/encoding.h"

namespace trustkey::tuf {

// Signs a SHA-256 digest of the to-be-signed certificate bytes; returns an ECDSA
// signature in TUF form (raw r||s), as trustkeyd's sign call does.
using DigestSigner = std::function<Bytes(std::span<const std::uint8_t> sha256_digest)>;

struct CertificateRequest {
    std::string common_name;          // the GUN
    Bytes spki_der;                   // the key's DER SubjectPublicKeyInfo (ECDSA)
    std::chrono::system_clock::time_point not_before = std::chrono::system_clock::now();
    std::chrono::seconds validity = std::chrono::hours(24 * 365 * 10);
};

// A certificate as notary makes one: CN = GUN, random 128-bit serial, KeyUsage
// digitalSignature+keyEncipherment, EKU codeSigning, CA:FALSE, ecdsa-with-SHA256.
// Returns its PEM (64-character lines). The signature is checked against the key before
// returning. Throws unsupported_algorithm for a non-ECDSA key, invalid_argument for an
// empty or control-character CN, denied/bad_key_format when the signer's answer is unusable.
std::string make_root_certificate(const CertificateRequest& request, const DigestSigner& signer);

} // namespace trustkey::tuf
