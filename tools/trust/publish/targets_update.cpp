#include "tools/trust/publish/targets_update.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/publish/server_key.h"
#include "tools/trust/tuf/canonical_json.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/json_fields.h"
#include "tools/trust/tuf/role_name.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/snapshot.h"

namespace trustkey::trust {

namespace {

using std::chrono::hours;

constexpr auto kTargetsExpiry = hours(24 * 365 * 3);
constexpr auto kSnapshotExpiry = hours(24 * 365 * 3);
constexpr std::size_t kSha256Size = 32;

std::string parent_of(const std::string& role) { return role.substr(0, role.rfind('/')); }

void check_targets_role(const std::string& role) {
    if (role != tuf::kTargetsRole && !tuf::is_delegation(role))
        throw Error(Errc::invalid_argument,
                    "\"" + role + "\" is not a targets role (targets or targets/<name>, lower case a-z 0-9 - _)", 0,
                    {}, role);
}

} // namespace

TargetsUpdate::TargetsUpdate(proto::Client& agent, notary::NotaryClient& server)
    : m_server(server), m_signer(agent) {}

TargetsUpdate::TargetsUpdate(proto::Client& agent, notary::NotaryClient& server, TrustData verified)
    : m_server(server), m_signer(agent), m_base(std::move(verified)) {
    m_root = m_base->root;
}

std::optional<std::string> TargetsUpdate::current(const std::string& role) {
    if (!m_base) return m_server.get_role(role);
    auto it = m_base->files.find(role);
    if (it == m_base->files.end()) return std::nullopt;
    return it->second;
}

void TargetsUpdate::load_root() {
    if (m_root) return;
    const auto bytes = m_server.get_role(std::string(tuf::kRootRole));
    if (!bytes)
        throw Error(Errc::not_found, "the notary server has no repository " + m_server.gun() + " (no root.json)", 0,
                    {}, m_server.gun());
    const tuf::Signed file = tuf::Signed::parse(*bytes, std::string(tuf::kRootRole));
    tuf::Root root = tuf::Root::from_json(file.body());
    file.verify(root.role_key_map(tuf::kRootRole), root.role(tuf::kRootRole).threshold);
    m_root = std::move(root);
}

std::pair<tuf::KeyMap, std::int64_t> TargetsUpdate::role_keys(const std::string& role) {
    if (role == tuf::kTargetsRole) {
        load_root();
        return {m_root->role_key_map(tuf::kTargetsRole), m_root->role(tuf::kTargetsRole).threshold};
    }
    const File& parent = load(parent_of(role));
    const tuf::DelegatedRole* delegated = parent.body.delegations.find(role);
    if (delegated == nullptr)
        throw Error(Errc::not_found, "\"" + parent_of(role) + "\" does not delegate \"" + role + "\"", 0, {}, role);
    return {delegated->keys.select(parent.body.delegations.keys), delegated->keys.threshold};
}

TargetsUpdate::File& TargetsUpdate::load(const std::string& role) {
    check_targets_role(role);
    if (auto it = m_files.find(role); it != m_files.end()) return it->second;
    auto [keys, threshold] = role_keys(role);
    File file;
    const auto bytes = current(role);
    if (bytes) {
        const tuf::Signed signed_file = tuf::Signed::parse(*bytes, role);
        signed_file.verify(keys, threshold);
        file.body = tuf::Targets::from_json(signed_file.body(), role);
        file.server_version = file.body.common.version;
    } else if (role == tuf::kTargetsRole) {
        throw Error(Errc::not_found, "the notary server has no targets.json for " + m_server.gun(), 0, {}, role);
    } else if (m_base) {
        // A file the verified snapshot does not list starts empty; one the server still
        // keeps from an earlier delegation of that name only sets the version to follow.
        if (const auto stale = m_server.get_role(role))
            file.server_version = tuf::integer_at(tuf::Signed::parse(*stale, role).body(), tuf::FieldPath{role, {}},
                                                  "version", 0);
    }
    return m_files.insert_or_assign(role, std::move(file)).first->second;
}

const tuf::Targets& TargetsUpdate::staged(const std::string& role) { return load(role).body; }

void TargetsUpdate::add_target(const std::string& role, const std::string& name,
                               std::span<const std::uint8_t> sha256_digest, std::int64_t length) {
    if (name.empty()) throw Error(Errc::invalid_argument, "a target needs a name");
    if (sha256_digest.size() != kSha256Size)
        throw Error(Errc::invalid_argument,
                    "a target's SHA-256 digest is 32 bytes, got " + std::to_string(sha256_digest.size()), 0, {}, name);
    if (length < 0 || static_cast<std::uint64_t>(length) >= tuf::kMaxJsonInteger)
        throw Error(Errc::invalid_argument, "a target's length must be in [0, 2^53)", 0, {}, name);
    File& file = load(role);
    if (role != tuf::kTargetsRole) {
        const auto& parent = load(parent_of(role)).body.delegations;
        const tuf::DelegatedRole* delegated = parent.find(role);
        if (delegated != nullptr && !delegated->allows(name))
            throw Error(Errc::denied, "\"" + role + "\" may not sign \"" + name + "\" (its paths do not allow it)",
                        0, {}, role);
    }
    tuf::FileMeta meta;
    meta.hashes.emplace("sha256", Bytes(sha256_digest.begin(), sha256_digest.end()));
    meta.length = length;
    file.body.targets.insert_or_assign(name, std::move(meta));
    m_changed.insert(role);
}

void TargetsUpdate::remove_target(const std::string& role, const std::string& name) {
    File& file = load(role);
    if (file.body.targets.erase(name) == 0)
        throw Error(Errc::not_found, "\"" + role + "\" has no target \"" + name + "\"", 0, {}, name);
    m_changed.insert(role);
}

void TargetsUpdate::add_delegation(const std::string& role, const std::vector<tuf::Key>& keys,
                                   const std::vector<std::string>& paths) {
    if (!tuf::is_delegation(role))
        throw Error(Errc::invalid_argument,
                    "\"" + role + "\" is not a delegation name (targets/<name>: lower case a-z 0-9 - _ /)", 0, {},
                    role);
    if (keys.empty()) throw Error(Errc::invalid_argument, "a delegation needs at least one key", 0, {}, role);
    const std::string parent = parent_of(role);
    File& file = load(parent);
    tuf::Delegations& delegations = file.body.delegations;
    auto it = std::find_if(delegations.roles.begin(), delegations.roles.end(),
                           [&](const tuf::DelegatedRole& r) { return r.name == role; });
    if (it == delegations.roles.end()) {
        delegations.roles.push_back(tuf::DelegatedRole{role, tuf::RoleKeys{{}, 1}, {}});
        it = std::prev(delegations.roles.end());
    }
    for (const tuf::Key& key : keys) {
        const std::string id = key.id();
        delegations.keys.insert_or_assign(id, key);
        auto& ids = it->keys.keyids;
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
    for (const std::string& path : paths)
        if (std::find(it->paths.begin(), it->paths.end(), path) == it->paths.end()) it->paths.push_back(path);
    m_changed.insert(parent);
}

void TargetsUpdate::add_signer(const std::string& name, const std::vector<tuf::Key>& keys) {
    if (name == "releases")
        throw Error(Errc::invalid_argument, "\"releases\" is reserved; choose another signer name", 0, {}, name);
    add_delegation(std::string(tuf::kTargetsRole) + "/" + name, keys, {""});
    add_delegation(std::string(tuf::kTargetsRole) + "/releases", keys, {""});
}

void TargetsUpdate::remove_signer(const std::string& name) {
    const std::string role = std::string(tuf::kTargetsRole) + "/" + name;
    const std::string releases = std::string(tuf::kTargetsRole) + "/releases";
    if (role == releases)
        throw Error(Errc::invalid_argument, "\"releases\" is reserved, not a signer", 0, {}, name);
    File& file = load(std::string(tuf::kTargetsRole));
    auto& roles = file.body.delegations.roles;
    const auto named = [&](const std::string& n) {
        return std::find_if(roles.begin(), roles.end(), [&](const tuf::DelegatedRole& r) { return r.name == n; });
    };
    auto it = named(role);
    if (it == roles.end())
        throw Error(Errc::not_found, "the repository has no signer \"" + name + "\" (no " + role + ")", 0, {}, role);
    const std::vector<std::string> ids = it->keys.keyids;
    roles.erase(it);
    if (auto rel = named(releases); rel != roles.end()) {
        auto& kept = rel->keys.keyids;
        std::erase_if(kept, [&](const std::string& id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); });
        if (kept.empty()) roles.erase(rel);
    }
    std::erase_if(file.body.delegations.keys, [&](const auto& entry) {
        return std::none_of(roles.begin(), roles.end(), [&](const tuf::DelegatedRole& r) {
            return std::find(r.keys.keyids.begin(), r.keys.keyids.end(), entry.first) != r.keys.keyids.end();
        });
    });
    m_changed.insert(std::string(tuf::kTargetsRole));
}

std::string TargetsUpdate::sign_role(const std::string& role, const tuf::Targets& body) {
    auto [keys, threshold] = role_keys(role);
    const std::vector<tuf::SigningKey> signing = m_signer.add_held(keys);
    if (std::cmp_less(signing.size(), threshold))
        throw Error(Errc::denied,
                    "trustkeyd holds " + std::to_string(signing.size()) + " of the keys of \"" + role +
                        "\", which needs " + std::to_string(threshold),
                    0, {}, role);
    tuf::Signed file(role, body.to_json());
    file.sign(signing, m_signer.function());
    return file.to_file();
}

void TargetsUpdate::require_server_snapshot_key() {
    const std::string role(tuf::kSnapshotRole);
    const std::vector<std::string>& ids = m_root->role(role).keyids;
    const std::string listed = ids.empty() ? std::string("none") : ids.front();
    std::string served;
    try {
        served = fetch_server_key(m_server, role).id();
    } catch (const Error& e) {
        if (e.errc() == Errc::io) throw;
    }
    if (std::find(ids.begin(), ids.end(), served) != ids.end()) return;
    throw Error(Errc::denied,
                "snapshot: trustkeyd does not hold the snapshot key " + listed + " of " + m_server.gun() +
                    " and the notary server does not manage it; load it with `trustkey trust key load`, or make "
                    "it server-managed (`notary key rotate " + m_server.gun() + " snapshot -r`)",
                0, {}, role);
}

std::optional<std::string> TargetsUpdate::make_snapshot(const std::map<std::string, std::string>& files) {
    load_root();
    const std::vector<tuf::SigningKey> signing = m_signer.add_held(m_root->role_key_map(tuf::kSnapshotRole));
    if (signing.empty()) {
        require_server_snapshot_key();
        return std::nullopt; // the server holds the snapshot key
    }
    if (std::cmp_less(signing.size(), m_root->role(tuf::kSnapshotRole).threshold))
        throw Error(Errc::denied, "trustkeyd holds too few snapshot keys", 0, {}, std::string(tuf::kSnapshotRole));
    const auto served = current(std::string(tuf::kSnapshotRole));
    if (!served)
        throw Error(Errc::not_found, "the notary server has no snapshot.json for " + m_server.gun(), 0, {},
                    std::string(tuf::kSnapshotRole));
    const tuf::Signed current_file = tuf::Signed::parse(*served, std::string(tuf::kSnapshotRole));
    current_file.verify(m_root->role_key_map(tuf::kSnapshotRole), m_root->role(tuf::kSnapshotRole).threshold);
    tuf::Snapshot snapshot = tuf::Snapshot::from_json(current_file.body());
    snapshot.common.version += 1;
    snapshot.common.expires = tuf::expiry_after(kSnapshotExpiry);
    for (const auto& [role, bytes] : files) snapshot.meta.insert_or_assign(role, tuf::FileMeta::of(as_bytes(bytes)));
    tuf::Signed file(std::string(tuf::kSnapshotRole), snapshot.to_json());
    file.sign(signing, m_signer.function());
    return file.to_file();
}

std::map<std::string, std::string> TargetsUpdate::publish() {
    std::map<std::string, std::string> files;
    for (const std::string& role : m_changed) {
        File& file = m_files.at(role);
        tuf::Targets body = file.body;
        body.common.version = file.server_version + 1;
        body.common.expires = tuf::expiry_after(kTargetsExpiry);
        files.emplace(role, sign_role(role, body));
    }
    if (files.empty()) return files;
    if (auto snapshot = make_snapshot(files)) files.emplace(tuf::kSnapshotRole, std::move(*snapshot));
    m_server.publish(files);
    if (m_base)
        for (const auto& [role, bytes] : files) m_base->files.insert_or_assign(role, bytes);
    for (const std::string& role : m_changed) {
        File& file = m_files.at(role);
        file.server_version += 1;
        file.body.common.version = file.server_version;
    }
    m_changed.clear();
    return files;
}

} // namespace trustkey::trust
