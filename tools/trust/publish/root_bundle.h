// The public bundle `trustkey-ceremony export` writes for the online side: root.json
// signed offline by the root keys, their certificates and public keys, root-keys.json,
// the transcript, and bundle.json ({"gun":G,"files":{NAME: sha256 hex}}).
// Loading one checks, before anything is published:
//   - every file bundle.json lists has that SHA-256 (root.json and root-keys.json must
//     be listed; names are plain file names in the bundle's directory);
//   - the bundle is for the repository asked for (bundle.json's "gun");
//   - root.json holds as a trusted root of that GUN (ChainVerifier::trusted_root: its
//     ecdsa-x509 certificates count under notary's rule — CN = GUN, valid now — and
//     sign it to its own threshold; it has not expired).
// No private key is involved: the root keys stay offline.
#pragma once

#include <filesystem>
#include <string>

#include "tools/trust/client/chain_verifier.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/root.h"

namespace trustkey::trust {

struct RootBundle {
    // Largest bundle file read (root.json, certificates, the transcript).
    static constexpr std::size_t kMaxFileSize = 16 * 1024 * 1024;

    std::filesystem::path dir;
    std::string gun;
    std::string root_bytes; // root.json exactly as signed offline
    tuf::Root root;

    // Throws Error naming the bundle directory and what failed: Errc::io for a file that
    // cannot be read, Errc::malformed for a bundle.json that does not parse or lists no
    // root.json, Errc::denied for a hash that differs, another GUN, or a root.json that
    // does not verify (the verifier's message kept).
    static RootBundle load(const std::filesystem::path& dir, const std::string& gun, tuf::Expiry now = expiry_now());
};

} // namespace trustkey::trust
