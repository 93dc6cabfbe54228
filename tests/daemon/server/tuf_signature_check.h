// Checks a signature in TUF byte form with OpenSSL alone, against the DER
// SubjectPublicKeyInfo the daemon gave out: ECDSA P-256 raw r||s (turned into
// DER for OpenSSL) over a SHA-256 digest, RSA-PSS (SHA-256, MGF1 SHA-256, salt 32)
// over a SHA-256 digest, Ed25519 over the whole message. Independent of the
// daemon's and the backends' own verification code.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <openssl/evp.h>

#include "agent.pb.h"

namespace trustkey::test {

class TufSignatureCheck {
public:
    // Throws std::runtime_error when `spki_der` does not parse or the type is not signable.
    TufSignatureCheck(agent::v1::KeyType type, std::span<const std::uint8_t> spki_der);

    // True when `signature` is a valid signature of `data` (a digest, or the message for Ed25519).
    bool verifies(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) const;

private:
    struct PkeyFree {
        void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    };
    agent::v1::KeyType m_type;
    std::unique_ptr<EVP_PKEY, PkeyFree> m_key;
};

} // namespace trustkey::test
