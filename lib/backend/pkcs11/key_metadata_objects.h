// A key's metadata (key_metadata.h) on a PKCS#11 token, tied to the key by its CKA_ID:
// each certificate a public CKO_CERTIFICATE object (X.509, CKA_ID of the key), which
// other PKCS#11 tools show beside the key; the uses a private CKO_DATA object of
// application "trustkey" holding {"ckaid":HEX,"uses":[...]}. A change writes the new
// uses object before it destroys the old one, and readers merge duplicates, so a crash
// leaves the old uses or the new ones, never a part.
#pragma once

#include <map>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "lib/backend/key_metadata.h"

namespace trustkey::backend::pkcs11 {

struct StoredMetadata {
    KeyMetadata meta;
    std::vector<CK_OBJECT_HANDLE> certificate_objects;
    std::vector<CK_OBJECT_HANDLE> use_objects;
};

// The metadata of every key on the token, by CKA_ID. Needs a logged-in session (the
// uses objects are private). Unreadable uses objects are skipped.
std::map<Bytes, StoredMetadata> read_token_metadata(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session);

// Adds `more` to the metadata of the key with `ckaid`; returns what the key now carries.
KeyMetadata add_key_metadata(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, const Bytes& ckaid,
                             const KeyMetadata& more);

// Destroys the metadata objects of the key with `ckaid`.
void remove_key_metadata(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, const Bytes& ckaid);

} // namespace trustkey::backend::pkcs11
