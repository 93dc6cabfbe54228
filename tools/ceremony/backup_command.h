// `backup`: copies a root key from its token to another one by wrapping inside the tokens
// (backend::pkcs11::backup_key), so that token can sign in its place; root-keys.json then
// lists the copy. No file copy of the key is ever written, in the clear or under a passphrase.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace trustkey::ceremony {

class CeremonyContext;

struct BackupOptions {
    std::filesystem::path keys_dir;  // root-keys.json of `root generate`
    std::string from;                // URI of the token holding the key
    std::string to;                  // URI of the token receiving the copy
    std::size_t key = 0;             // 1-based position in root-keys.json; 0: the key it lists on `from`
};

// PINs: the user PIN of `from` from $TRUSTKEY_CEREMONY_PIN_1 and of `to` from
// $TRUSTKEY_CEREMONY_PIN_2 (each else $TRUSTKEY_CEREMONY_PIN), the SO PIN of `from` from
// $TRUSTKEY_CEREMONY_SO_PIN; each else asked without echo. Checks everything it can before
// asking for a PIN: the key is one root-keys.json allows to copy and does not list on `to`
// yet, both tokens are present. The copy is recorded in the transcript, then root-keys.json
// is rewritten (atomically) listing `to` for the key. Any refusal changes nothing.
void backup(const BackupOptions& options, CeremonyContext& context);

} // namespace trustkey::ceremony
