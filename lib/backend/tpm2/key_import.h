// Moving an existing private key into a TPM (TPM2_Import): the key is wrapped
// to the storage parent the way TPM2_Duplicate would with an outer wrapper, so it
// crosses the bus encrypted under a seed only that TPM can recover (ECDH with the
// parent's key). The TPM then returns a private area encrypted under the parent,
// and the key is TPM-protected like a generated one.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include "lib/backend/private_key.h"

namespace trustkey::backend::tpm2 {

struct ImportWrap {
    TPM2B_PUBLIC pub{};                 // the key's public area (not fixedTPM: it was made outside)
    TPM2B_PRIVATE duplicate{};          // outer HMAC || AES-CFB(TPM2B_SENSITIVE)
    TPM2B_ENCRYPTED_SECRET sym_seed{};  // the ephemeral ECDH point
    ~ImportWrap();
};

// Wraps `key` (ECDSA P-256 or RSA-2048) to `parent`, an ECC P-256 restricted decryption
// key with SHA-256 names and AES-128-CFB; `auth` becomes the key's authorization value.
// Throws unsupported_algorithm for other keys.
ImportWrap wrap_for_import(const PrivateKey& key, const TPMT_PUBLIC& parent, const TPM2B_AUTH& auth);

} // namespace trustkey::backend::tpm2
