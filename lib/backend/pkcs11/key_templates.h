// Conversions between OpenSSL keys and PKCS#11 key objects: curve parameters,
// the public key of a token object as DER SPKI, and the attribute values of a
// private key being imported.
#pragma once

#include <optional>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "lib/backend/backend.h"
#include "lib/backend/private_key.h"

namespace trustkey::backend::pkcs11 {

// DER of the OID prime256v1 (1.2.840.10045.3.1.7).
extern const Bytes kP256Params;
// DER of the OID id-Ed25519 (1.3.101.112).
extern const Bytes kEd25519Params;

// Public key of a token key as DER SPKI, from the public object's attributes.
// nullopt for key types trustkey does not use (the caller skips such keys).
std::optional<Bytes> spki_from_token(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE pub,
                                     CK_KEY_TYPE key_type);

// Attribute values for C_CreateObject. Secret parts live in SecureBytes.
struct ImportValues {
    CK_KEY_TYPE key_type = 0;
    Bytes ec_params;              // EC and Ed25519
    Bytes ec_point;               // DER OCTET STRING of the public point
    SecureBytes ec_value;         // private scalar / Ed25519 seed
    Bytes modulus, public_exponent;
    SecureBytes private_exponent, prime1, prime2, exponent1, exponent2, coefficient;
};
ImportValues import_values(const PrivateKey& key);

} // namespace trustkey::backend::pkcs11
