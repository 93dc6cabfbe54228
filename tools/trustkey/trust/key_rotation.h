// `trustkey trust key rotate REPO ROLE`: a new key for targets, snapshot or timestamp.
// The new targets key (and a local snapshot key) is made in trustkeyd; timestamp, and
// snapshot with server_managed, get a new key from the notary server. root.json
// (version + 1) lists the new key instead of the old ones and is signed by the root
// keys trustkeyd holds; targets.json is re-signed with its new key in the same publish.
#pragma once

#include <string>

#include "tools/trust/notary/notary_client.h"
#include "tools/trust/tuf/key.h"
#include "trustkey/proto/client.h"

namespace trustkey::tools::trust {

// Returns the new key. Throws Failure for a role or combination that cannot be rotated
// and the library errors of the steps otherwise.
tuf::Key rotate_role_key(proto::Client& agent, notary::NotaryClient& server, const std::string& role,
                         bool server_managed);

} // namespace trustkey::tools::trust
