// Helpers shared by the key formats: type of an EVP_PKEY, its SPKI, and
// parsing an SPKI back into an EVP_PKEY.
#pragma once

#include <span>

#include <openssl/evp.h>

#include "lib/core/encoding.h"
#include "lib/keys/key_type.h"
#include "lib/keys/openssl_ptr.h"

namespace trustkey::keys {

// The trustkey key type of `pkey`; throws unsupported_algorithm for others.
KeyType key_type_of(EVP_PKEY* pkey);
// DER SubjectPublicKeyInfo, EC points uncompressed.
Bytes spki_of(EVP_PKEY* pkey);
// Parses DER SubjectPublicKeyInfo; throws bad_key_format.
EvpPkeyPtr pkey_from_spki(std::span<const std::uint8_t> spki_der);
// ECDSA raw r||s (TUF's form, each half the same length) to the DER ECDSA-Sig-Value
// that OpenSSL and X.509 use.
Bytes ecdsa_raw_to_der(std::span<const std::uint8_t> raw);

} // namespace trustkey::keys
