// One TPM key as kept on disk: its name and the public and private areas the TPM
// returned (TPM2B_PUBLIC, TPM2B_PRIVATE, in TPM wire form). The private area is
// encrypted by the TPM under its storage primary: useless off that TPM.
#pragma once

#include <span>
#include <string>

#include <tss2/tss2_tpm2_types.h>

#include "lib/core/encoding.h"

namespace trustkey::backend::tpm2 {

struct KeyBlob {
    std::string name;
    bool own_auth = false;  // the key has its own authorization value (given at use time by login)
    TPM2B_PUBLIC pub{};
    TPM2B_PRIVATE priv{};
};

// "TKT2", format version 1, u16 name length, name, TPM2B_PUBLIC, TPM2B_PRIVATE; version 2
// (a key with its own authorization value) has a flags byte (bit 0: own auth) after the version.
Bytes encode_key_blob(const KeyBlob& blob);
// Throws key_damaged (naming `subject`) for anything but a whole, well-formed blob.
KeyBlob decode_key_blob(std::span<const std::uint8_t> data, const std::string& subject);
// The key name in the blob's header when that much of it is readable, else empty.
std::string key_blob_name(std::span<const std::uint8_t> data);

} // namespace trustkey::backend::tpm2
