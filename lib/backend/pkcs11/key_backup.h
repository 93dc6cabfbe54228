// Copying a key from one PKCS#11 token to another without the key ever being in the clear
// outside a token (the offline ceremony's `backup`). Free of PKCS#11 headers.
//
// The key must be sensitive and extractable; Backend::generate_wrappable makes such keys with
// CKA_WRAP_WITH_TRUSTED, so only a key the source's security officer marked trusted can wrap
// them. Both tokens are present at once. Every temporary is a session object labelled
// kBackupTransportLabel:
//  1. the destination makes an RSA-3072 key pair whose private key never leaves it;
//  2. the source's SO creates the destination's public key there as a trusted wrapping key,
//     and a one-time AES-256 key, itself trusted and wrappable only under a trusted key;
//  3. as the user, the source wraps the AES key under the RSA key (RSA-OAEP with SHA-256, or
//     SHA-1 where the token takes no other) and the key under the AES key (AES key wrap with
//     padding, RFC 5649);
//  4. the destination unwraps the AES key, then the key under the same label and CKA_ID, and
//     gets the original's public key object;
//  5. the copy signs a random challenge, which the original public key must verify.
// Temporaries are destroyed on both tokens on every path, and objects with that label that
// an interrupted run left as token objects are removed first. Both tokens are logged out
// when it returns. The copy is protected as the original: sensitive, and extractable only
// wrapped under a trusted key, so it can be copied again (with its own token's SO PIN).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "lib/backend/pkcs11/token_init.h"
#include "lib/core/encoding.h"
#include "lib/core/secure_bytes.h"

namespace trustkey::backend::pkcs11 {

inline constexpr const char* kBackupTransportLabel = "trustkey-backup-transport";

struct KeyBackupRequest {
    std::filesystem::path module;
    std::string from_uri;           // the token holding the key
    std::string to_uri;             // the token receiving the copy
    std::string key_id;             // TUF key id (hex): the key's CKA_ID, and its public key's id
    SecureBytes from_user_pin;
    SecureBytes from_so_pin;        // marks the transport keys trusted on the source
    SecureBytes to_user_pin;
};

struct KeyBackupResult {
    TokenSlot from, to;
    std::string key_label;          // CKA_LABEL of the key, the same on both tokens
    Bytes spki_der;                 // public key of the original, which the copy was checked against
    std::string transport;          // the mechanisms used, for the record
    std::size_t leftovers_removed = 0;  // objects of an interrupted run removed first
};

// Copies the ECDSA P-256 key `key_id` as described above. Refuses with one line and no
// change on either token: a token absent (token_absent), the same token twice
// (invalid_argument), a token that lacks a mechanism or attribute the transfer needs
// ("token … cannot …; refusing", unsupported_algorithm), no such key on the source
// (not_found), a key that is not extractable (denied), a destination already holding an
// object with that CKA_ID or label (already_exists), a wrong user or SO PIN (pin_incorrect,
// with the tries left the token reports) or a locked one (pin_locked).
KeyBackupResult backup_key(const KeyBackupRequest& request);

} // namespace trustkey::backend::pkcs11
