// `trustkey trust key prepare-root REPO --out DIR`: the online side's half of an offline
// root ceremony. The repository's targets key (and with --local-snapshot its snapshot
// key) is made in trustkeyd, or reused when it exists by its name
// (RepositoryInit::online_key_name); the server's timestamp (and snapshot) key is
// fetched. DIR gets what `trustkey-ceremony root sign` takes — targets.pub, snapshot.pub
// or snapshot.key, timestamp.key (the server's key JSON as it answers) — and
// online-keys.json saying which key each file is and who holds it. DIR appears whole or
// not at all.
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/keys/public_key.h"
#include "lib/core/atomic_file.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/publish/key_records.h"
#include "tools/trust/publish/repository_init.h"
#include "tools/trust/publish/server_key.h"
#include "tools/trustkey/trust/publisher_commands.h"
#include "tools/trustkey/trust/publisher_steps.h"

namespace trustkey::tools::trust {

namespace {

namespace fs = std::filesystem;
namespace pb = proto::pb;
using trustkey::trust::RepositoryInit;

struct OnlineKey {
    std::string file;
    std::string content;
    tuf::Key key;
    std::string trustkeyd_name; // empty: the notary server holds it
    bool made = false;
};

// The trustkeyd key named `name`, made (ECDSA P-256) when there is none; it records that it
// serves `role` of `gun`.
OnlineKey agent_online_key(proto::Client& agent, const std::string& gun, const std::string& role,
                           const std::string& name, const std::string& backend) {
    std::optional<pb::KeyInfo> info;
    bool made = false;
    try {
        info = agent.public_key(name);
    } catch (const proto::ClientError& e) {
        if (e.kind() != proto::ClientError::Kind::status || e.status() != pb::STATUS_KEY_NOT_FOUND)
            trustkey::trust::throw_agent_error(role + " key \"" + name + "\"", e, name);
    }
    if (!info) {
        try {
            info = agent.generate_key(name, pb::KEY_TYPE_ECDSA_P256, backend);
            made = true;
        } catch (const proto::ClientError& e) {
            trustkey::trust::throw_agent_error("generating " + role + " key \"" + name + "\"", e, name);
        }
    }
    trustkey::trust::record_key_use(agent, info->id(), gun, role);
    const Bytes spki(info->public_key().begin(), info->public_key().end());
    return OnlineKey{role + ".pub", keys::spki_to_pem(spki), tuf::Key::from_spki(spki), name, made};
}

// The notary server's key for `role`, kept as the server answers it.
OnlineKey server_online_key(notary::NotaryClient& server, const std::string& role) {
    std::string body = server.get_key(role);
    tuf::Key key = trustkey::trust::parse_server_key(body, role);
    return OnlineKey{role + ".key", std::move(body), std::move(key), {}, false};
}

} // namespace

void PublisherCommands::key_prepare_root() const {
    const RepositoryTarget target = parse_repository(m_repo);
    if (target.tag_given)
        throw Failure::usage(fmt::format("\"{}\": key prepare-root takes a repository, not a tag", m_repo));
    std::error_code ec;
    if (fs::exists(m_out, ec) || ec)
        throw Failure::failed(fmt::format("{} exists; prepare-root writes a new directory", m_out));
    proto::Client agent = m_context.connect();
    notary::NotaryClient server = notary_client(*m_options, target);
    std::map<std::string, OnlineKey> keys;
    run_step(fmt::format("preparing the online keys of {} at {}", target.gun, server.base_url()), [&] {
        const std::string targets_name = RepositoryInit::online_key_name("targets", target.gun);
        keys.emplace("targets", agent_online_key(agent, target.gun, "targets", targets_name, m_backend));
        if (m_local_snapshot)
            keys.emplace("snapshot", agent_online_key(agent, target.gun, "snapshot",
                                                      RepositoryInit::online_key_name("snapshot", target.gun),
                                                      m_backend));
        else
            keys.emplace("snapshot", server_online_key(server, "snapshot"));
        keys.emplace("timestamp", server_online_key(server, "timestamp"));

        nlohmann::json note = {{"gun", target.gun}, {"server", server.base_url()}, {"keys", nlohmann::json::object()}};
        std::map<std::string, std::string> files;
        for (const auto& [role, k] : keys) {
            nlohmann::json entry = {{"file", k.file},
                                    {"key_id", k.key.id()},
                                    {"held_by", k.trustkeyd_name.empty() ? "notary server" : "trustkeyd"}};
            if (!k.trustkeyd_name.empty()) entry["trustkeyd_key"] = k.trustkeyd_name;
            note["keys"][role] = entry;
            files.emplace(k.file, k.content);
        }
        files.emplace("online-keys.json", note.dump(2) + "\n");
        write_new_directory(m_out, files);
    });
    for (const std::string role : {"targets", "snapshot", "timestamp"}) {
        const OnlineKey& k = keys.at(role);
        std::cout << fmt::format("{} key {} ", role, k.key.id());
        if (k.trustkeyd_name.empty())
            std::cout << "(notary server)";
        else
            std::cout << fmt::format("(trustkeyd key \"{}\", {})", k.trustkeyd_name, k.made ? "new" : "reused");
        std::cout << ": " << (fs::path(m_out) / k.file).string() << "\n";
    }
    const fs::path dir(m_out);
    std::cout << "On the offline machine: trustkey-ceremony root sign --keys KEYS --targets "
              << (dir / keys.at("targets").file).string() << " --snapshot " << (dir / keys.at("snapshot").file).string()
              << " --timestamp " << (dir / keys.at("timestamp").file).string() << " --token …\n"
              << "then with its export: trustkey trust signer add --root-bundle BUNDLE … " << m_repo << "\n";
}

} // namespace trustkey::tools::trust
