// A private key held in memory only on its way onto a token (import). Parsed
// by OpenSSL from the PEM forms `docker trust key load` accepts.
#pragma once

#include <memory>
#include <string_view>

#include <openssl/evp.h>

#include "lib/backend/backend.h"
#include "lib/core/secure_bytes.h"
#include "lib/keys/openssl_ptr.h"

namespace trustkey::backend {

class PrivateKey {
public:
    // Accepts PKCS#8 ("PRIVATE KEY"), encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY", needs the
    // passphrase), SEC1 ("EC PRIVATE KEY") and PKCS#1 ("RSA PRIVATE KEY"). PEM header lines
    // such as docker's "role: NAME" are ignored. Throws bad_key_format, bad_passphrase
    // (wrong or missing passphrase) or unsupported_algorithm (a key type/size trustkey does not hold).
    static PrivateKey from_pem(std::string_view pem, const SecureBytes* passphrase);

    KeyType type() const noexcept { return m_type; }
    EVP_PKEY* get() const noexcept { return m_pkey.get(); }
    Bytes spki_der() const;

private:
    PrivateKey(EvpPkeyPtr pkey, KeyType type) : m_pkey(std::move(pkey)), m_type(type) {}
    EvpPkeyPtr m_pkey;
    KeyType m_type;
};

} // namespace trustkey::backend
