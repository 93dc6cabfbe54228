// Changes to a repository's targets metadata signed with keys trustkeyd holds: target
// entries added to or removed from targets.json or a delegation's file
// (targets/releases …), and delegations added to targets.json.
//
// Each file changed is loaded first, from verified trust data when the update is based
// on it (see RepositoryPublisher), else from the server (its signatures checked against
// the keys root.json or the parent file lists), changed, given version = the server's
// version + 1 (1 for a delegation file the server does not have yet) and a new expiry
// (3 years), and signed by the role's keys the agent holds. publish() uploads the
// changed files together; snapshot.json is re-signed and uploaded too when the agent
// holds root's snapshot key, otherwise the server makes it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "tools/trust/client/trust_data.h"
#include "tools/trust/notary/notary_client.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/tuf/key.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/targets.h"
#include "trustkey/proto/client.h"

namespace trustkey::trust {

class TargetsUpdate {
public:
    // Both must outlive this object. Nothing is fetched before the first change.
    TargetsUpdate(proto::Client& agent, notary::NotaryClient& server);
    // Based on `verified`, the repository as an Updater verified it: root, snapshot and
    // every file come from there (a delegation it lacks starts empty) instead of from the
    // server. publish() still uploads to `server`.
    TargetsUpdate(proto::Client& agent, notary::NotaryClient& server, TrustData verified);

    // Adds or replaces `name` in `role`'s file: hashes.sha256 = `sha256_digest` (32 raw
    // bytes), length = `length`. The role must be "targets" or delegated by its parent.
    void add_target(const std::string& role, const std::string& name, std::span<const std::uint8_t> sha256_digest,
                    std::int64_t length);
    // Removes `name` from `role`'s file; Error(not_found) when it is not there.
    void remove_target(const std::string& role, const std::string& name);
    // Adds the delegation `role` (a direct child of targets or of another delegation)
    // with `keys` to its parent's file, or adds the keys and paths it lacks to an existing one.
    void add_delegation(const std::string& role, const std::vector<tuf::Key>& keys,
                        const std::vector<std::string>& paths = {""});
    // As `docker trust signer add`: targets/<name> and targets/releases with `keys`,
    // paths [""]. "releases" is reserved.
    void add_signer(const std::string& name, const std::vector<tuf::Key>& keys);
    // As `docker trust signer remove`: drops targets/<name> from targets.json and its
    // keys from targets/releases (and releases itself when no key is left); keys no
    // delegation lists any more leave the key map. Error(not_found) when targets.json
    // has no targets/<name>.
    void remove_signer(const std::string& name);

    // The staged signed part of `role` (loading it when needed).
    const tuf::Targets& staged(const std::string& role);

    // Signs and uploads the changed files (and snapshot.json when its key is local).
    // Returns role -> uploaded bytes. Throws the server's Error (code_name() names its
    // code, e.g. "VERSION" when another writer published first) or Error(denied) when
    // the agent holds too few of a role's keys. After success further changes build on
    // what was published.
    std::map<std::string, std::string> publish();

private:
    struct File {
        tuf::Targets body;
        std::int64_t server_version = 0; // 0: not on the server yet
    };

    void load_root();
    // The current bytes of `role`: from the verified base, or fetched from the server.
    std::optional<std::string> current(const std::string& role);
    File& load(const std::string& role);
    // The keys and threshold `role` is signed with: root's for targets, the parent's delegation otherwise.
    std::pair<tuf::KeyMap, std::int64_t> role_keys(const std::string& role);
    std::string sign_role(const std::string& role, const tuf::Targets& body);
    std::optional<std::string> make_snapshot(const std::map<std::string, std::string>& files);
    // Throws Errc::denied naming the key when the server does not hold root's snapshot
    // key (the repository keeps it elsewhere, e.g. in the notary client that made it).
    void require_server_snapshot_key();

    notary::NotaryClient& m_server;
    AgentSigner m_signer;
    std::optional<TrustData> m_base;
    std::optional<tuf::Root> m_root;
    std::map<std::string, File> m_files;
    std::set<std::string> m_changed;
};

} // namespace trustkey::trust
