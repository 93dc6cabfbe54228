// Who serves the online roles (targets, snapshot, timestamp) of a root.json signed
// elsewhere: keys trustkeyd holds, or the notary server's own keys. Used when a root made
// offline is published (a new repository, or a root rotated offline).
#pragma once

#include <string_view>
#include <vector>

#include "tools/trust/notary/notary_client.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::trust {

// The keys of `root`'s `role` trustkeyd holds, registered with `signer`. Throws
// Error(denied) naming the ids of the keys it lacks (as root.json lists them, and the
// plain key's id for a certificate) when they fall short of the role's threshold.
std::vector<tuf::SigningKey> held_role_keys(AgentSigner& signer, const tuf::Root& root, std::string_view role);

// Whether trustkeyd holds any key of `root`'s `role`.
bool holds_any_role_key(AgentSigner& signer, const tuf::Root& root, std::string_view role);

// Checks that `root` lists the notary server's key for `role` (GET <role>.key) as that
// role's only key. Throws Error(denied) naming both key ids otherwise.
void require_server_key(notary::NotaryClient& server, const tuf::Root& root, std::string_view role);

} // namespace trustkey::trust
