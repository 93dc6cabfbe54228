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

#include <string>
#include <vector>

#include "tools/trust/notary/notary_client.h"
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

} // namespace trustkey::tools::trust
