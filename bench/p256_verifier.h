// Checks ECDSA P-256 signatures in TUF byte form (raw r||s) with OpenSSL, so the
// benchmark knows every path it times produces signatures that verify.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>

#include "lib/core/encoding.h"

namespace trustkey::bench {

class P256Verifier {
public:
    // From a PKCS#11 CKA_EC_POINT value (DER OCTET STRING around the uncompressed point,
    // or the bare point). Throws Errc::bad_key_format.
    static P256Verifier from_ec_point(std::span<const std::uint8_t> ec_point);
    // From a DER SubjectPublicKeyInfo. Throws Errc::bad_key_format.
    static P256Verifier from_spki(std::span<const std::uint8_t> spki_der);

    Bytes spki_der() const;
    bool verify(std::span<const std::uint8_t> digest, std::span<const std::uint8_t> raw_signature) const;

private:
    struct KeyFree {
        void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
    };
    explicit P256Verifier(EVP_PKEY* key) : m_key(key) {}
    std::unique_ptr<EVP_PKEY, KeyFree> m_key;
};

} // namespace trustkey::bench
