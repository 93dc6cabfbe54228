// TPM object templates (the storage primary, signing keys) and the conversions
// between TPM public areas and signatures and trustkey's forms.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include "lib/backend/backend.h"

namespace trustkey::backend::tpm2 {

// ECC P-256 restricted decryption key (AES-128-CFB), the same each time, so
// CreatePrimary in the owner hierarchy gives the same key on the same TPM.
TPM2B_PUBLIC storage_primary_template();
// An unrestricted signing key: ECDSA P-256 with SHA-256, or RSA-2048 with RSA-PSS
// and SHA-256. Throws unsupported_algorithm for Ed25519 (not a TPM algorithm).
TPM2B_PUBLIC signing_key_template(KeyType type);
// The signature scheme Esys_Sign is asked for.
TPMT_SIG_SCHEME signature_scheme(KeyType type);

// Key type and DER SubjectPublicKeyInfo of a TPM public area; throws unsupported_algorithm.
KeyType key_type_of_public(const TPMT_PUBLIC& pub);
Bytes spki_of_public(const TPMT_PUBLIC& pub);
// A TPM signature in TUF byte form: ECDSA raw r||s (each half 32 bytes), RSA-PSS as is.
// Throws token_error when it has the wrong scheme or size.
Bytes tuf_signature(const TPMT_SIGNATURE& sig, KeyType type);

} // namespace trustkey::backend::tpm2
