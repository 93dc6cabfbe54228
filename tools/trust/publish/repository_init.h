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
// With a root.json signed offline (a verified RootBundle's) that root.json is published
// byte for byte instead: no root key is made or used here. Its targets key must be one
// trustkeyd holds, its snapshot key one trustkeyd holds (then snapshot.json is signed
// here) or one the server made for the repository, and its timestamp key one the server
// made (the server refuses others; for a new repository each GET <role>.key makes a new
// key, so there is no single one to compare with before the upload).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tools/trust/notary/notary_client.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/tuf/key.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"
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
    // root.json signed offline, already verified (RootBundle::root_bytes). When set,
    // root_key, targets_key, local_snapshot and snapshot_key are not used.
    std::string signed_root;
    // RepositoryPublisher::initialize: initialize even when the trust directory's cache
    // trusts a repository of this name (the server lost it); the cache is replaced.
    bool replace_trusted = false;
};

// How the online roles of an offline-signed root.json are served: the trustkeyd keys
// that sign targets (and snapshot, when trustkeyd holds it), found by check_signed_root.
struct SignedRootKeys {
    std::vector<tuf::SigningKey> targets;
    std::vector<tuf::SigningKey> snapshot; // empty: the server holds the snapshot key
};

struct InitializedRepository {
    std::string root_certificate_pem; // empty for an offline-signed root
    tuf::Key root_key;            // the ecdsa-x509 key root.json lists (the first, offline)
    std::string root_agent_key;   // agent key ids (= canonical TUF ids); root: empty offline
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
    // agent errors as AgentSigner does. When it fails (http::Interrupted included), the
    // keys it generated are deleted from trustkeyd again, unless the server holds the
    // root.json it uploaded (or cannot say): keys that existed before are never touched,
    // and a root key generated here stays when another writer's root.json is there.
    InitializedRepository run(const RepositoryInitOptions& options = {});

    // Checks the online keys of an offline-signed `root_bytes` against trustkeyd, uploading
    // nothing: trustkeyd must hold targets' keys to its threshold, and snapshot's keys
    // when it holds any of them (otherwise the server must, as for timestamp: its upload
    // answers that). Throws Error(denied) naming the role and the key id otherwise.
    SignedRootKeys check_signed_root(const std::string& root_bytes);

    // "root-" and the first 8 hex digits of SHA-256(gun).
    static std::string root_key_name(const std::string& gun);
    // "<role>-" and the first 8 hex digits of SHA-256(gun): the name of the key
    // `trust key prepare-root` makes for an online role of a repository rooted offline.
    static std::string online_key_name(const std::string& role, const std::string& gun);

private:
    struct MadeKey {
        std::string id;
        bool root = false;
    };
    InitializedRepository run_with_agent_keys(const RepositoryInitOptions& options);
    void remove_made_keys() noexcept;
    InitializedRepository run_signed_root(const std::string& root_bytes);
    SignedRootKeys signed_root_keys(AgentSigner& signer, const tuf::Root& root);
    // Signs targets.json (and snapshot.json when `snapshot` is not empty) for `root_file`
    // and publishes the three; returns role -> bytes.
    std::map<std::string, std::string> publish_new(AgentSigner& signer, std::string root_file,
                                                   const std::vector<tuf::SigningKey>& targets,
                                                   const std::vector<tuf::SigningKey>& snapshot);
    proto::pb::KeyInfo root_agent_key(const std::string& ref, const std::string& backend);
    proto::pb::KeyInfo new_or_given_key(const std::string& ref, const std::string& role, const std::string& backend);

    proto::Client& m_agent;
    notary::NotaryClient& m_server;
    std::vector<MadeKey> m_made_keys;  // generated by this run, deleted again when it fails
    std::string m_uploaded_root;       // the root.json bytes sent to the server, once sent
};

} // namespace trustkey::trust
