// The agent key of a signer named after a person, as docker picks the key of the
// targets/<registry user> role it creates when `docker trust sign` initializes a
// repository: the key already kept under that name, else a new ECDSA P-256 key.
#pragma once

#include <string>

#include "tools/trust/tuf/key.h"
#include "trustkey/proto/client.h"

namespace trustkey::trust {

struct SignerKey {
    tuf::Key key;            // the delegation key (its TUF id is the agent key id)
    std::string agent_id;
    bool generated = false;  // made by this call
};

// The agent key named `name`, generated (ECDSA P-256, on `backend`; empty: the first) when
// trustkeyd has none. Throws trustkey::Error as throw_agent_error() does when the agent fails.
SignerKey signer_agent_key(proto::Client& agent, const std::string& name, const std::string& backend = {});

} // namespace trustkey::trust
