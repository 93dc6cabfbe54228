#include "tools/trustkey/trust/key_rotation.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <utility>

#include <fmt/format.h>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/client/updater.h"
#include "tools/trust/publish/agent_signer.h"
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
#include "tools/trustkey/failure.h"

namespace trustkey::tools::trust {

namespace {

namespace pb = proto::pb;
using std::chrono::hours;
using trustkey::trust::AgentSigner;

// notary's defaults (its const.go).
constexpr auto kRootExpiry = hours(24 * 365 * 10);
constexpr auto kTargetsExpiry = hours(24 * 365 * 3);
constexpr auto kSnapshotExpiry = hours(24 * 365 * 3);

const std::string kRoot(tuf::kRootRole);
const std::string kTargets(tuf::kTargetsRole);
const std::string kSnapshot(tuf::kSnapshotRole);
const std::string kTimestamp(tuf::kTimestampRole);

// "<role>-<8 hex of SHA-256(gun)>-<8 random hex>", the form new repository keys get.
std::string new_key_name(const std::string& role, const std::string& gun) {
    std::random_device random;
    const std::uint32_t salt = random();
    return fmt::format("{}-{}-{:08x}", role, to_hex(sha256(as_bytes(gun))).substr(0, 8), salt);
}

void check_request(const RotationRequest& request) {
    const std::string& role = request.role;
    if (role != kRoot && role != kTargets && role != kSnapshot && role != kTimestamp)
        throw Failure::usage(
            fmt::format("\"{}\" cannot be rotated: choose root, targets, snapshot or timestamp", role));
    if ((role == kRoot || role == kTargets) && request.server_managed)
        throw Failure::usage(fmt::format("the {} key cannot be server-managed", role));
    if (role == kTimestamp && !request.server_managed)
        throw Failure::usage("the timestamp key is always server-managed: add --server-managed");
    if (request.server_managed && !request.key.empty())
        throw Failure::usage("--key names a trustkeyd key and cannot go with --server-managed");
    if (!request.backend.empty() && (request.server_managed || !request.key.empty()))
        throw Failure::usage(fmt::format("--backend {} picks where a new trustkeyd key is made: it cannot go with {}",
                                         request.backend, request.server_managed ? "--server-managed" : "--key"));
}

// The agent key to rotate to: `ref` when given, otherwise a new ECDSA P-256 key.
pb::KeyInfo agent_key(proto::Client& agent, const std::string& role, const std::string& gun, const std::string& ref,
                      const std::string& backend) {
    try {
        if (!ref.empty()) return agent.public_key(ref);
        return agent.generate_key(new_key_name(role, gun), pb::KEY_TYPE_ECDSA_P256, backend);
    } catch (const proto::ClientError& e) {
        trustkey::trust::throw_agent_error(
            ref.empty() ? "generating a new " + role + " key" : "the new " + role + " key \"" + ref + "\"", e, ref);
    }
}

// A new self-signed certificate (CN = GUN, 10 years) for the agent key `info`.
tuf::Key root_certificate_key(AgentSigner& signer, const pb::KeyInfo& info, const std::string& gun) {
    if (info.type() != pb::KEY_TYPE_ECDSA_P256)
        throw Error(Errc::unsupported_algorithm,
                    fmt::format("the new root key {} is not an ECDSA P-256 key (root certificates are ecdsa-x509)",
                                info.id()),
                    0, {}, info.id());
    tuf::CertificateRequest request;
    request.common_name = gun;
    request.spki_der.assign(info.public_key().begin(), info.public_key().end());
    return tuf::Key::from_certificate_pem(tuf::make_root_certificate(request, signer.digest_signer(info.id())));
}

tuf::Root load_root(notary::NotaryClient& server) {
    const auto bytes = server.get_role(kRoot);
    if (!bytes)
        throw Failure::failed(fmt::format("{} has no repository {} (no root.json)", server.base_url(), server.gun()));
    const tuf::Signed file = tuf::Signed::parse(*bytes, kRoot);
    tuf::Root root = tuf::Root::from_json(file.body());
    file.verify(root.role_key_map(tuf::kRootRole), root.role(tuf::kRootRole).threshold);
    return root;
}

// The keys of `root`'s `role` that trustkeyd holds; fails below the role's threshold.
std::vector<tuf::SigningKey> held_keys(AgentSigner& signer, const tuf::Root& root, const std::string& role,
                                       const std::string& which) {
    std::vector<tuf::SigningKey> signing = signer.add_held(root.role_key_map(role));
    const std::int64_t threshold = root.role(role).threshold;
    if (std::cmp_less(signing.size(), threshold))
        throw Error(Errc::denied,
                    fmt::format("trustkeyd holds {} of the {} keys of {} root.json ({} needed)", signing.size(),
                                role, which, threshold),
                    0, {}, role);
    return signing;
}

// Lists `key` as `role`'s only key; keys no role lists any more leave the key map.
void replace_role_key(tuf::Root& root, const std::string& role, const tuf::Key& key) {
    tuf::RoleKeys& listed = root.roles.at(role);
    const std::vector<std::string> old_ids = listed.keyids;
    listed.keyids = {key.id()};
    listed.threshold = 1;
    for (const std::string& id : old_ids) {
        const bool used = std::any_of(root.roles.begin(), root.roles.end(), [&](const auto& entry) {
            const auto& ids = entry.second.keyids;
            return std::find(ids.begin(), ids.end(), id) != ids.end();
        });
        if (!used) root.keys.erase(id);
    }
    root.keys.insert_or_assign(key.id(), key);
}

// The new root signed by the previous root's keys (to its threshold) and by its own.
std::string sign_root(AgentSigner& signer, const tuf::Root& old_root, const tuf::Root& root) {
    std::vector<tuf::SigningKey> signing = held_keys(signer, old_root, kRoot, "the current");
    for (tuf::SigningKey& key : held_keys(signer, root, kRoot, "the new")) {
        const bool listed = std::any_of(signing.begin(), signing.end(),
                                        [&](const tuf::SigningKey& k) { return k.keyid == key.keyid; });
        if (!listed) signing.push_back(std::move(key));
    }
    tuf::Signed file(kRoot, root.to_json());
    file.sign(signing, signer.function());
    return file.to_file();
}

// The server's targets.json, checked against the old root, with version + 1 and a new
// expiry, signed by the new root's targets keys.
std::string resigned_targets(AgentSigner& signer, notary::NotaryClient& server, const tuf::Root& old_root,
                             const tuf::Root& root) {
    const auto bytes = server.get_role(kTargets);
    if (!bytes) throw Failure::failed(fmt::format("{} has no targets.json for {}", server.base_url(), server.gun()));
    const tuf::Signed current = tuf::Signed::parse(*bytes, kTargets);
    current.verify(old_root.role_key_map(tuf::kTargetsRole), old_root.role(tuf::kTargetsRole).threshold);
    tuf::Targets targets = tuf::Targets::from_json(current.body());
    targets.common.version += 1;
    targets.common.expires = tuf::expiry_after(kTargetsExpiry);
    tuf::Signed file(kTargets, targets.to_json());
    file.sign(held_keys(signer, root, kTargets, "the new"), signer.function());
    return file.to_file();
}

// When trustkeyd holds the snapshot key of the new root, the snapshot.json to upload
// with `files`: the server's current one (checked against the old root), version + 1,
// 3 years, and the hashes of the files uploaded and of every other file it lists as
// the server serves them. nullopt when the server holds the key and makes it.
std::optional<std::string> local_snapshot(AgentSigner& signer, notary::NotaryClient& server,
                                          const tuf::Root& old_root, const tuf::Root& root,
                                          const std::map<std::string, std::string>& files) {
    if (signer.add_held(root.role_key_map(tuf::kSnapshotRole)).empty()) return std::nullopt;
    const std::vector<tuf::SigningKey> signing = held_keys(signer, root, kSnapshot, "the new");
    const auto current = server.get_role(kSnapshot);
    if (!current)
        throw Failure::failed(fmt::format("{} has no snapshot.json for {}", server.base_url(), server.gun()));
    const tuf::Signed current_file = tuf::Signed::parse(*current, kSnapshot);
    current_file.verify(old_root.role_key_map(tuf::kSnapshotRole), old_root.role(tuf::kSnapshotRole).threshold);
    tuf::Snapshot snapshot = tuf::Snapshot::from_json(current_file.body());
    snapshot.common.version += 1;
    snapshot.common.expires = tuf::expiry_after(kSnapshotExpiry);
    snapshot.meta.try_emplace(kRoot);
    snapshot.meta.try_emplace(kTargets);
    for (auto& [role, meta] : snapshot.meta) {
        if (const auto uploaded = files.find(role); uploaded != files.end()) {
            meta = tuf::FileMeta::of(as_bytes(uploaded->second));
            continue;
        }
        const auto served = server.get_role(role);
        if (!served)
            throw Failure::failed(fmt::format("{} lists {} in snapshot.json of {} but does not serve it",
                                              server.base_url(), role, server.gun()));
        if (meta.hashes.empty())
            meta = tuf::FileMeta::of(as_bytes(*served));
        else if (!meta.matches(as_bytes(*served)))
            throw Failure::failed(fmt::format("{} serves a {}.json of {} that its snapshot.json does not list; "
                                              "try again",
                                              server.base_url(), role, server.gun()));
    }
    tuf::Signed file(kSnapshot, snapshot.to_json());
    file.sign(signing, signer.function());
    return file.to_file();
}

// Whether `a` and `b` give `role` the same keys and threshold.
bool same_role_keys(const tuf::Root& a, const tuf::Root& b, const std::string& role) {
    std::vector<std::string> ids_a = a.role(role).keyids, ids_b = b.role(role).keyids;
    std::sort(ids_a.begin(), ids_a.end());
    std::sort(ids_b.begin(), ids_b.end());
    return ids_a == ids_b && a.role(role).threshold == b.role(role).threshold;
}

// Checks who serves each online role of `root` whose keys differ from `old_root`'s:
// trustkeyd (targets, snapshot) or the notary server (snapshot, timestamp).
void check_changed_online_keys(AgentSigner& signer, notary::NotaryClient& server, const tuf::Root& old_root,
                               const tuf::Root& root) {
    if (!same_role_keys(old_root, root, kTargets)) trustkey::trust::held_role_keys(signer, root, kTargets);
    if (!same_role_keys(old_root, root, kSnapshot)) {
        if (trustkey::trust::holds_any_role_key(signer, root, kSnapshot))
            trustkey::trust::held_role_keys(signer, root, kSnapshot);
        else
            trustkey::trust::require_server_key(server, root, kSnapshot);
    }
    if (!same_role_keys(old_root, root, kTimestamp)) trustkey::trust::require_server_key(server, root, kTimestamp);
}

} // namespace

BundleRotationResult rotate_root_from_bundle(proto::Client& agent, notary::NotaryClient& server,
                                             const std::filesystem::path& trust_dir,
                                             const trustkey::trust::RootBundle& bundle) {
    const std::string where = "root bundle " + bundle.dir.string();
    const trustkey::trust::TrustData current = trustkey::trust::Updater(server, trust_dir).verify();
    const tuf::Root& old_root = current.root;
    const std::int64_t version = bundle.root.common.version;
    if (version != old_root.common.version + 1)
        throw Failure::failed(fmt::format("{} holds root.json version {}; {} is at version {}, so the next root must "
                                          "be version {}",
                                          where, version, server.gun(), old_root.common.version,
                                          old_root.common.version + 1));
    try {
        (void)trustkey::trust::ChainVerifier(server.gun()).next_root(old_root, bundle.root_bytes, true);
    } catch (const Error& e) {
        throw Failure::failed(fmt::format("{}: root.json does not follow the root trusted now: {}", where,
                                          e.message()));
    }
    const tuf::Root& root = bundle.root;
    AgentSigner signer(agent);
    check_changed_online_keys(signer, server, old_root, root);

    std::map<std::string, std::string> files;
    files.emplace(kRoot, bundle.root_bytes);
    if (!same_role_keys(old_root, root, kTargets))
        files.emplace(kTargets, resigned_targets(signer, server, old_root, root));
    if (auto snapshot = local_snapshot(signer, server, old_root, root, files))
        files.emplace(kSnapshot, std::move(*snapshot));
    server.publish(files);
    try {
        (void)trustkey::trust::Updater(server, trust_dir).update();
    } catch (const Error& e) {
        throw Failure::failed(fmt::format("published root.json version {} of {}, but the trust directory's cache "
                                          "could not be brought up to date: {}",
                                          version, server.gun(), e.message()));
    }
    return BundleRotationResult{version, root.role(kRoot).keyids};
}

RotationResult rotate_role_key(proto::Client& agent, notary::NotaryClient& server, const RotationRequest& request) {
    check_request(request);
    const std::string& role = request.role;
    const tuf::Root old_root = load_root(server);
    AgentSigner signer(agent);
    held_keys(signer, old_root, kRoot, "the current"); // before any key is made

    std::vector<std::string> old_root_keys;
    const tuf::Key key = [&] {
        if (request.server_managed) return trustkey::trust::parse_server_key(server.rotate_key(role), role);
        const pb::KeyInfo info = agent_key(agent, role, server.gun(), request.key, request.backend);
        if (role != kRoot) {
            trustkey::trust::record_key_use(agent, info.id(), server.gun(), role);
            return tuf::Key::from_spki(as_bytes(info.public_key()));
        }
        for (const auto& [id, old] : old_root.role_key_map(tuf::kRootRole)) {
            const std::string canonical = old.canonical_id();
            const bool listed = std::find(old_root_keys.begin(), old_root_keys.end(), canonical) != old_root_keys.end();
            if (canonical != info.id() && !listed && signer.holds(old)) old_root_keys.push_back(canonical);
        }
        tuf::Key certificate_key = root_certificate_key(signer, info, server.gun());
        const Bytes& pem = certificate_key.public_bytes();
        trustkey::trust::record_key_use(agent, info.id(), server.gun(), role, std::string(pem.begin(), pem.end()));
        return certificate_key;
    }();

    tuf::Root root = old_root;
    replace_role_key(root, role, key);
    root.common.version += 1;
    root.common.expires = tuf::expiry_after(kRootExpiry);

    std::map<std::string, std::string> files;
    files.emplace(kRoot, sign_root(signer, old_root, root));
    if (role == kTargets) files.emplace(kTargets, resigned_targets(signer, server, old_root, root));
    if (auto snapshot = local_snapshot(signer, server, old_root, root, files))
        files.emplace(kSnapshot, std::move(*snapshot));
    server.publish(files);
    return RotationResult{key, std::move(old_root_keys)};
}

} // namespace trustkey::tools::trust
