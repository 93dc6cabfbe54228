// Initializes a new repository (GUN) on a notary server with keys trustkeyd holds, as
// docker does before its first push or `trust signer add`:
//   - root: an agent key and a self-signed certificate for it (CN = GUN, 10 years);
//     root.json lists the certificate as an ecdsa-x509 key;
//   - targets: a new agent key;
//   - snapshot: the server's key (GET snapshot.key) unless a local agent key is asked for;
//   - timestamp: the server's key (GET timestamp.key).
// root.json (version 1, root expires in 10 years) is signed by the root key and
// targets.json (version 1, 3 years, no targets, no delegations) by the targets key;
// both are published, with snapshot.json (version 1, 3 years) when its key is local.
#pragma once

#include <map>
#include <string>

#include "tools/trust/notary/notary_client.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/tuf/key.h"
#include "trustkey/proto/client.h"

namespace trustkey::trust {

struct RepositoryInitOptions {
    // Agent key (id or name) for root. Empty: the agent key named root_key_name(gun),
    // generated when it does not exist yet.
    std::string root_key;
    // Agent key for targets. Empty: a new ECDSA P-256 key named "targets-<gun hash>-<random>".
    std::string targets_key;
    // Keep the snapshot key in the agent instead of on the server.
    bool local_snapshot = false;
    // With local_snapshot: the agent key for snapshot; empty: a new key as for targets.
    std::string snapshot_key;
    // trustkeyd backend for the keys generated here (root, targets, snapshot); empty: the first.
    std::string backend;
};

struct InitializedRepository {
    std::string root_certificate_pem;
    tuf::Key root_key;            // the ecdsa-x509 key root.json lists
    std::string root_agent_key;   // agent key ids (= canonical TUF ids)
    std::string targets_agent_key;
    std::string snapshot_agent_key; // empty when the server holds the snapshot key
    tuf::Key snapshot_key;
    tuf::Key timestamp_key;
    std::map<std::string, std::string> published; // role -> the bytes uploaded
};

class RepositoryInit {
public:
    // Both must outlive this object.
    RepositoryInit(proto::Client& agent, notary::NotaryClient& server);

    // Throws Error(already_exists) when the server has a root.json for the GUN, the
    // server's Error (code_name() = its error code) when it refuses the upload, and
    // agent errors as AgentSigner does.
    InitializedRepository run(const RepositoryInitOptions& options = {});

    // "root-" and the first 8 hex digits of SHA-256(gun).
    static std::string root_key_name(const std::string& gun);

private:
    proto::pb::KeyInfo root_agent_key(const std::string& ref, const std::string& backend);
    proto::pb::KeyInfo new_or_given_key(const std::string& ref, const std::string& role, const std::string& backend);

    proto::Client& m_agent;
    notary::NotaryClient& m_server;
};

} // namespace trustkey::trust
