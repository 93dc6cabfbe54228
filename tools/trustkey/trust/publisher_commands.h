// The publishing `trustkey trust` verbs: key generate/load/rotate/prepare-root, signer
// add/remove, sign, revoke.
// Private keys stay in trustkeyd; metadata goes to the notary server.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/trust/publish/repository_init.h"
#include "tools/trustkey/command_context.h"
#include "tools/trustkey/trust/trust_context.h"
#include "tools/trustkey/trust/trust_options.h"

namespace trustkey::tools::trust {

class PublisherCommands {
public:
    // Adds the verbs under `trust`; the object must outlive parsing and the action.
    PublisherCommands(CLI::App& trust, CommandContext& context, std::shared_ptr<const TrustOptions> options);

private:
    void key_generate() const;
    void key_load() const;
    void key_rotate() const;
    void key_rotate_from_bundle(const RepositoryTarget& target) const;
    void key_prepare_root() const;
    void signer_add() const;
    void signer_remove() const;
    // Whether `target` may lose the signer m_name: asks as docker does (stdin) when
    // that would leave targets/releases without enough signatures.
    bool removal_confirmed(const RepositoryTarget& target, const std::string& repo) const;
    void sign() const;
    // `init` with the root.json of --root-bundle (checked: the bundle, then its online keys
    // against trustkeyd and `server`) when one is given.
    ::trustkey::trust::RepositoryInitOptions with_root_bundle(proto::Client& agent, notary::NotaryClient& server,
                                                              ::trustkey::trust::RepositoryInitOptions init) const;
    void revoke() const;

    CommandContext& m_context;
    std::shared_ptr<const TrustOptions> m_options;
    std::string m_name;
    std::string m_dir = ".";
    std::vector<std::string> m_keys;
    std::vector<std::string> m_repos;
    std::string m_digest;
    std::int64_t m_size = -1;
    std::string m_repo;
    std::string m_file;
    std::string m_role;
    std::string m_from_file;
    std::string m_manifest;
    std::string m_root_key;
    bool m_server_managed = false;
    bool m_force = false;
    bool m_force_init = false; // sign, signer add: --force-init
    bool m_yes = false;        // revoke: -y/--yes
    std::string m_rotate_key;
    std::string m_load_name = "signer";
    std::string m_backend;  // --backend: trustkeyd backend for the keys a verb makes or loads
    std::string m_root_bundle; // --root-bundle: a ceremony's exported bundle (root.json signed offline)
    std::string m_out;         // prepare-root --out
    bool m_local_snapshot = false;
};

} // namespace trustkey::tools::trust
