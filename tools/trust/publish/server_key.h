// The server-managed keys (timestamp, and snapshot unless the repository keeps a local
// one): GET <role>.key answers Go-encoded key JSON ({"keytype","keyval":{"public",
// "private"}} in declaration order), which is parsed and rebuilt canonically here, so
// the id is the one notary computes.
#pragma once

#include <string>
#include <string_view>

#include "tools/trust/notary/notary_client.h"
#include "tools/trust/tuf/key.h"

namespace trustkey::trust {

// Parses a body of GET <role>.key. Throws Error(malformed/bad_key_format) naming `role`.
tuf::Key parse_server_key(std::string_view body, std::string_view role);
// Fetches and parses the server's key for `role` ("timestamp" or "snapshot").
tuf::Key fetch_server_key(notary::NotaryClient& server, const std::string& role);

} // namespace trustkey::trust
