#include "tools/trust/publish/repository_init.h"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/rand.h>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/http/interruption.h"
#include "tools/trust/publish/key_records.h"
#include "tools/trust/publish/online_keys.h"
#include "tools/trust/publish/server_key.h"
#include "tools/trust/tuf/certificate.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/role_name.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/snapshot.h"
#include "tools/trust/tuf/targets.h"

namespace trustkey::trust {

namespace {

namespace pb = proto::pb;
using std::chrono::hours;

constexpr auto kRootExpiry = hours(24 * 365 * 10);
constexpr auto kTargetsExpiry = hours(24 * 365 * 3);
constexpr auto kSnapshotExpiry = hours(24 * 365 * 3);

std::string gun_hash(const std::string& gun) { return to_hex(sha256(as_bytes(gun))).substr(0, 8); }

std::string random_suffix() {
    std::uint8_t bytes[4];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw Error(Errc::internal, "RAND_bytes failed");
    return to_hex(bytes);
}

tuf::Key agent_tuf_key(const pb::KeyInfo& info) {
    const std::string& der = info.public_key();
    return tuf::Key::from_spki(as_bytes(der));
}

// A new repository has no server key to compare with yet (each GET <role>.key makes
// another one); the server refuses a root.json listing a timestamp or snapshot key it
// does not hold ("… key <id> not found"). Turns that refusal into one line naming the role.
void refused_server_key(const Error& e, const tuf::Root& root, bool server_snapshot) {
    constexpr long kHttpBadRequest = 400;
    if (e.code() != kHttpBadRequest || e.code_name() != "INVALID_UPDATE") return;
    std::vector<std::string_view> roles{tuf::kTimestampRole};
    if (server_snapshot) roles.push_back(tuf::kSnapshotRole);
    for (std::string_view role : roles)
        for (const std::string& id : root.role(role).keyids)
            if (e.message().find("key " + id + " not found") != std::string::npos)
                throw Error(Errc::denied,
                            "root.json's " + std::string(role) + " key " + id +
                                " is not a key the notary server holds for this repository (it refused the upload)",
                            0, {}, std::string(role));
}

tuf::Root parse_root(const std::string& bytes) {
    return tuf::Root::from_json(tuf::Signed::parse(bytes, std::string(tuf::kRootRole)).body());
}

} // namespace

RepositoryInit::RepositoryInit(proto::Client& agent, notary::NotaryClient& server)
    : m_agent(agent), m_server(server) {}

std::string RepositoryInit::root_key_name(const std::string& gun) { return "root-" + gun_hash(gun); }

std::string RepositoryInit::online_key_name(const std::string& role, const std::string& gun) {
    return role + "-" + gun_hash(gun);
}

pb::KeyInfo RepositoryInit::root_agent_key(const std::string& ref, const std::string& backend) {
    const std::string name = ref.empty() ? root_key_name(m_server.gun()) : ref;
    try {
        return m_agent.public_key(name);
    } catch (const proto::ClientError& e) {
        const bool absent = e.kind() == proto::ClientError::Kind::status && e.status() == pb::STATUS_KEY_NOT_FOUND;
        if (!absent || !ref.empty()) throw_agent_error("root key \"" + name + "\"", e);
    }
    try {
        pb::KeyInfo made = m_agent.generate_key(name, pb::KEY_TYPE_ECDSA_P256, backend);
        m_made_keys.push_back({made.id(), true});
        return made;
    } catch (const proto::ClientError& e) {
        // Another publisher initializing the same repository made it first: use that one.
        if (e.kind() != proto::ClientError::Kind::status || e.status() != pb::STATUS_KEY_EXISTS)
            throw_agent_error("generating root key \"" + name + "\"", e);
    }
    try {
        return m_agent.public_key(name);
    } catch (const proto::ClientError& e) {
        throw_agent_error("root key \"" + name + "\"", e);
    }
}

pb::KeyInfo RepositoryInit::new_or_given_key(const std::string& ref, const std::string& role,
                                             const std::string& backend) {
    try {
        if (!ref.empty()) return m_agent.public_key(ref);
        pb::KeyInfo made = m_agent.generate_key(role + "-" + gun_hash(m_server.gun()) + "-" + random_suffix(),
                                                pb::KEY_TYPE_ECDSA_P256, backend);
        m_made_keys.push_back({made.id(), false});
        return made;
    } catch (const proto::ClientError& e) {
        throw_agent_error(role + " key" + (ref.empty() ? std::string() : " \"" + ref + "\""), e);
    }
}

InitializedRepository RepositoryInit::run(const RepositoryInitOptions& options) {
    if (m_server.get_role("root").has_value())
        throw Error(Errc::already_exists, "the notary server already has a repository " + m_server.gun(), 0, {},
                    m_server.gun());
    if (!options.signed_root.empty()) return run_signed_root(options.signed_root);
    m_made_keys.clear();
    m_uploaded_root.clear();
    try {
        return run_with_agent_keys(options);
    } catch (...) {
        remove_made_keys();
        throw;
    }
}

void RepositoryInit::remove_made_keys() noexcept {
    if (m_made_keys.empty()) return;
    // The clean-up asks the server and trustkeyd although the user interrupted.
    const http::InterruptShield shield;
    // Whether the upload went through after all (its answer lost) or another writer's
    // root.json is there now; without an upload nothing of ours can be on the server.
    std::optional<std::string> on_server;
    if (!m_uploaded_root.empty()) {
        try {
            on_server = m_server.get_role(std::string(tuf::kRootRole));
        } catch (...) {
            return; // unknown: the keys may serve a published repository, so they stay
        }
        if (on_server && *on_server == m_uploaded_root) return;
    }
    for (const MadeKey& key : m_made_keys) {
        // Another initialization through this trustkeyd may have reused the root key by its name.
        if (key.root && on_server) continue;
        try {
            m_agent.delete_key(key.id);
        } catch (...) {
            // Best effort: the failure being reported matters more than a leftover key.
        }
    }
    m_made_keys.clear();
}

InitializedRepository RepositoryInit::run_with_agent_keys(const RepositoryInitOptions& options) {
    const pb::KeyInfo root_info = root_agent_key(options.root_key, options.backend);
    if (root_info.type() != pb::KEY_TYPE_ECDSA_P256)
        throw Error(Errc::unsupported_algorithm, "the root key must be an ECDSA key (its certificate is ecdsa-x509)",
                    0, {}, root_info.id());
    const pb::KeyInfo targets_info = new_or_given_key(options.targets_key, "targets", options.backend);
    std::optional<pb::KeyInfo> snapshot_info;
    if (options.local_snapshot) snapshot_info = new_or_given_key(options.snapshot_key, "snapshot", options.backend);

    AgentSigner signer(m_agent);
    tuf::CertificateRequest request;
    request.common_name = m_server.gun();
    request.spki_der.assign(root_info.public_key().begin(), root_info.public_key().end());
    std::string cert_pem = tuf::make_root_certificate(request, signer.digest_signer(root_info.id()));
    const tuf::Key root_key = tuf::Key::from_certificate_pem(cert_pem);
    const tuf::Key targets_key = agent_tuf_key(targets_info);
    const tuf::Key snapshot_key =
        snapshot_info ? agent_tuf_key(*snapshot_info) : fetch_server_key(m_server, std::string(tuf::kSnapshotRole));
    const tuf::Key timestamp_key = fetch_server_key(m_server, std::string(tuf::kTimestampRole));
    // What each key serves, and the root certificate. Keys this run made carry it before
    // anything is published (a failed run deletes them again); keys that existed before get
    // it only once the repository is published, so a failed run leaves them as they were.
    std::vector<std::pair<const pb::KeyInfo*, std::string_view>> uses{{&root_info, tuf::kRootRole},
                                                                       {&targets_info, tuf::kTargetsRole}};
    if (snapshot_info) uses.emplace_back(&*snapshot_info, tuf::kSnapshotRole);
    const auto record_uses = [&](bool made_here) {
        for (const auto& [info, role] : uses) {
            const bool made = std::any_of(m_made_keys.begin(), m_made_keys.end(),
                                          [&](const MadeKey& k) { return k.id == info->id(); });
            if (made == made_here)
                record_key_use(m_agent, info->id(), m_server.gun(), std::string(role),
                               role == tuf::kRootRole ? cert_pem : std::string());
        }
    };
    record_uses(true);

    tuf::Root root;
    root.common.version = 1;
    root.common.expires = tuf::expiry_after(kRootExpiry);
    const std::vector<std::pair<std::string_view, const tuf::Key*>> role_keys = {
        {tuf::kRootRole, &root_key},
        {tuf::kTargetsRole, &targets_key},
        {tuf::kSnapshotRole, &snapshot_key},
        {tuf::kTimestampRole, &timestamp_key}};
    for (const auto& [role, key] : role_keys) {
        root.keys.insert_or_assign(key->id(), *key);
        root.roles[std::string(role)] = tuf::RoleKeys{{key->id()}, 1};
    }
    tuf::Signed root_file(std::string(tuf::kRootRole), root.to_json());
    root_file.sign(std::vector<tuf::SigningKey>{signer.add(root_key)}, signer.function());
    std::vector<tuf::SigningKey> snapshot_signing;
    if (snapshot_info) snapshot_signing.push_back(signer.add(snapshot_key));
    std::map<std::string, std::string> files =
        publish_new(signer, root_file.to_file(), {signer.add(targets_key)}, snapshot_signing);
    record_uses(false);

    return InitializedRepository{
        .root_certificate_pem = std::move(cert_pem),
        .root_key = root_key,
        .root_agent_key = root_info.id(),
        .targets_agent_key = targets_info.id(),
        .snapshot_agent_key = snapshot_info ? snapshot_info->id() : std::string(),
        .snapshot_key = snapshot_key,
        .timestamp_key = timestamp_key,
        .published = std::move(files),
    };
}

std::map<std::string, std::string> RepositoryInit::publish_new(AgentSigner& signer, std::string root_file,
                                                               const std::vector<tuf::SigningKey>& targets_keys,
                                                               const std::vector<tuf::SigningKey>& snapshot_keys) {
    tuf::Targets targets;
    targets.common.version = 1;
    targets.common.expires = tuf::expiry_after(kTargetsExpiry);
    tuf::Signed targets_file(std::string(tuf::kTargetsRole), targets.to_json());
    targets_file.sign(targets_keys, signer.function());

    std::map<std::string, std::string> files;
    files.emplace(tuf::kRootRole, std::move(root_file));
    files.emplace(tuf::kTargetsRole, targets_file.to_file());
    if (!snapshot_keys.empty()) {
        tuf::Snapshot snapshot;
        snapshot.common.version = 1;
        snapshot.common.expires = tuf::expiry_after(kSnapshotExpiry);
        for (const auto& role : {tuf::kRootRole, tuf::kTargetsRole}) {
            const std::string& bytes = files.at(std::string(role));
            snapshot.meta.emplace(role, tuf::FileMeta::of(as_bytes(bytes)));
        }
        tuf::Signed snapshot_file(std::string(tuf::kSnapshotRole), snapshot.to_json());
        snapshot_file.sign(snapshot_keys, signer.function());
        files.emplace(tuf::kSnapshotRole, snapshot_file.to_file());
    }
    m_uploaded_root = files.at(std::string(tuf::kRootRole));
    m_server.publish(files);
    return files;
}

SignedRootKeys RepositoryInit::signed_root_keys(AgentSigner& signer, const tuf::Root& root) {
    SignedRootKeys out;
    out.targets = held_role_keys(signer, root, tuf::kTargetsRole);
    if (holds_any_role_key(signer, root, tuf::kSnapshotRole))
        out.snapshot = held_role_keys(signer, root, tuf::kSnapshotRole);
    return out;
}

SignedRootKeys RepositoryInit::check_signed_root(const std::string& root_bytes) {
    AgentSigner signer(m_agent);
    return signed_root_keys(signer, parse_root(root_bytes));
}

InitializedRepository RepositoryInit::run_signed_root(const std::string& root_bytes) {
    const tuf::Root root = parse_root(root_bytes);
    AgentSigner signer(m_agent);
    const SignedRootKeys keys = signed_root_keys(signer, root);
    std::map<std::string, std::string> files;
    try {
        files = publish_new(signer, root_bytes, keys.targets, keys.snapshot);
    } catch (const Error& e) {
        refused_server_key(e, root, keys.snapshot.empty());
        throw;
    }

    const tuf::KeyMap targets_keys = root.role_key_map(tuf::kTargetsRole);
    const tuf::KeyMap snapshot_keys = root.role_key_map(tuf::kSnapshotRole);
    return InitializedRepository{
        .root_certificate_pem = {},
        .root_key = root.role_key_map(tuf::kRootRole).begin()->second,
        .root_agent_key = {},
        .targets_agent_key = targets_keys.at(keys.targets.front().keyid).canonical_id(),
        .snapshot_agent_key =
            keys.snapshot.empty() ? std::string() : snapshot_keys.at(keys.snapshot.front().keyid).canonical_id(),
        .snapshot_key = snapshot_keys.begin()->second,
        .timestamp_key = root.role_key_map(tuf::kTimestampRole).begin()->second,
        .published = std::move(files),
    };
}

} // namespace trustkey::trust
