// `trustkey trust key rotate REPO ROLE`: a new key for root, targets, snapshot or timestamp.
//   - root: a key in trustkeyd (new, or an existing one with `key`) and a new self-signed
//     certificate for it (CN = GUN, 10 years); root.json lists only that certificate and
//     is signed by the old root keys (to the old threshold) and by the new key, so
//     clients holding the old root accept the new one. Reusing the current key renews
//     the certificate. The old root key stays in trustkeyd.
//   - targets, and snapshot without server_managed: a key in trustkeyd (new, or `key`).
//   - timestamp, and snapshot with server_managed: a new key from the notary server.
// root.json (version + 1, root expiry renewed to 10 years) lists the new key instead of
// the old ones. targets.json is re-signed with a new targets key (version + 1, 3-year
// expiry). When trustkeyd holds the snapshot key root.json then lists, snapshot.json
// (the server's version + 1, 3 years, root's new hash) is signed and uploaded with the
// rest, since the server cannot make it; otherwise the server makes it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tools/trust/notary/notary_client.h"
#include "tools/trust/publish/root_bundle.h"
#include "tools/trust/tuf/key.h"
#include "trustkey/proto/client.h"

namespace trustkey::tools::trust {

struct RotationRequest {
    std::string role;            // root, targets, snapshot, timestamp
    bool server_managed = false; // the notary server holds the new key (snapshot, timestamp)
    std::string key;             // existing trustkeyd key (id or name) to rotate to; empty: a new key
    std::string backend;         // trustkeyd backend for a new key; empty: the first
};

struct RotationResult {
    tuf::Key key;                           // the key root.json lists for the role now
    std::vector<std::string> old_root_keys; // trustkeyd ids of root keys no longer listed, still on the token
};

// Throws Failure::usage for a role or combination that cannot be rotated, Failure for
// missing keys or repositories, and the library errors of the steps otherwise.
// Nothing is uploaded unless every file is signed.
RotationResult rotate_role_key(proto::Client& agent, notary::NotaryClient& server, const RotationRequest& request);

// `trust key rotate REPO root --root-bundle DIR`: publishes the bundle's root.json, made
// offline by `trustkey-ceremony root rotate`, byte for byte. It must follow the root the
// trust directory's cache trusts (the server's on first use; Updater::verify): version
// + 1, signed to that root's threshold and to its own (ChainVerifier::next_root). Each
// online role keeps its keys or gets keys trustkeyd holds (targets, snapshot) or the
// server's (snapshot, timestamp); targets.json is re-signed for a new targets key and
// snapshot.json signed when trustkeyd holds the snapshot key. No root key is used. After
// the upload the cache is brought up to date (Updater::update).
struct BundleRotationResult {
    std::int64_t version = 0;          // root.json's version now
    std::vector<std::string> root_key_ids; // the ecdsa-x509 keys its root role lists
};

BundleRotationResult rotate_root_from_bundle(proto::Client& agent, notary::NotaryClient& server,
                                             const std::filesystem::path& trust_dir,
                                             const trustkey::trust::RootBundle& bundle);

} // namespace trustkey::tools::trust
