#include "tools/trust/client/chain_verifier.h"

#include <openssl/sha.h>

#include <set>

#include "lib/core/encoding.h"
#include "tools/trust/client/update_failure.h"
#include "tools/trust/tuf/json_fields.h"
#include "tools/trust/tuf/role_name.h"

namespace trustkey::trust {

namespace {

Bytes sha512_of(std::string_view bytes) {
    Bytes out(SHA512_DIGEST_LENGTH);
    SHA512(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), out.data());
    return out;
}

std::size_t count_valid(const tuf::Signed& file, const tuf::KeyMap& keys) {
    std::set<std::string> valid;
    for (const tuf::Signature& s : file.signatures()) {
        auto it = keys.find(s.keyid);
        if (it == keys.end() || valid.contains(s.keyid) || it->second.id() != s.keyid) continue;
        if (it->second.verify(s.method, as_bytes(file.canonical()), s.sig)) valid.insert(s.keyid);
    }
    return valid.size();
}

const tuf::FileMeta& listed_entry(const tuf::Files& meta, const std::string& role, std::string_view listed_by) {
    auto it = meta.find(role);
    if (it == meta.end())
        throw update_error(UpdateFailure::missing, role, std::string(listed_by) + " does not list it");
    return it->second;
}

} // namespace

tuf::Expiry expiry_now() {
    return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

ChainVerifier::ChainVerifier(std::string gun, tuf::Expiry now) : m_policy(std::move(gun)), m_now(now) {}

tuf::Signed ChainVerifier::parse(std::string_view bytes, const std::string& role) const {
    return tuf::Signed::parse(bytes, role);
}

void ChainVerifier::check_signatures(const tuf::Signed& file, const tuf::KeyMap& keys, std::int64_t threshold,
                                     bool check_expiry) const {
    const std::string& role = file.role();
    tuf::FieldPath at{role, {}};
    std::string type = tuf::string_at(file.body(), at, "_type");
    if (type != tuf::role_type(role))
        throw update_error(UpdateFailure::wrong_type, role,
                           "the file is of type \"" + type + "\", not \"" + std::string(tuf::role_type(role)) + "\"");
    tuf::Expiry expires = tuf::parse_expiry(tuf::string_at(file.body(), at, "expires"), role + " expires");
    if (check_expiry && expires <= m_now)
        throw update_error(UpdateFailure::expired, role, "expired at " + tuf::format_expiry(expires));
    try {
        (void)file.verify(keys, threshold, check_expiry ? m_now : tuf::Expiry::min());
    } catch (const Error& e) {
        if (e.errc() != Errc::denied) throw;
        throw update_error(UpdateFailure::threshold, role,
                           "signature threshold not met: " + std::to_string(count_valid(file, keys)) + " of " +
                               std::to_string(threshold) + " required valid signatures (" +
                               std::to_string(keys.size()) + " trusted key(s), " +
                               std::to_string(file.signatures().size()) + " signature(s) in the file)");
    }
}

void ChainVerifier::check_file(std::string_view role, std::string_view bytes, const tuf::FileMeta& listed,
                               std::string_view listed_by) {
    if (static_cast<std::int64_t>(bytes.size()) != listed.length)
        throw update_error(UpdateFailure::length_mismatch, role,
                           "length " + std::to_string(bytes.size()) + " bytes, but " + std::string(listed_by) +
                               " lists " + std::to_string(listed.length));
    bool checked = false;
    for (const auto& [alg, digest] : listed.hashes) {
        Bytes actual;
        if (alg == "sha256") actual = sha256(as_bytes(bytes));
        else if (alg == "sha512") actual = sha512_of(bytes);
        else continue;
        checked = true;
        if (actual != digest)
            throw update_error(UpdateFailure::hash_mismatch, role,
                               alg + " " + to_hex(actual) + " differs from " + to_hex(digest) + " listed in " +
                                   std::string(listed_by));
    }
    if (!checked)
        throw update_error(UpdateFailure::hash_mismatch, role,
                           std::string(listed_by) + " lists no sha256 or sha512 hash for it");
}

void ChainVerifier::check_version(std::string_view role, std::int64_t served, std::optional<std::int64_t> cached) {
    if (cached && served < *cached)
        throw update_error(UpdateFailure::rollback, role,
                           "rollback: the server offers version " + std::to_string(served) +
                               ", older than cached version " + std::to_string(*cached));
}

tuf::Root ChainVerifier::trusted_root(std::string_view bytes) const {
    tuf::Signed file = parse(bytes, std::string(tuf::kRootRole));
    tuf::Root root = tuf::Root::from_json(file.body());
    tuf::KeyMap keys = m_policy.trusted_root_keys(root, m_now, true);
    check_signatures(file, keys, root.role(tuf::kRootRole).threshold, true);
    return root;
}

tuf::Root ChainVerifier::next_root(const tuf::Root& previous, std::string_view bytes, bool latest) const {
    const std::string role(tuf::kRootRole);
    tuf::Signed file = parse(bytes, role);
    tuf::Root root = tuf::Root::from_json(file.body());
    std::int64_t expected = previous.common.version + 1;
    if (root.common.version != expected)
        throw update_error(UpdateFailure::version, role,
                           "version " + std::to_string(root.common.version) + " served where version " +
                               std::to_string(expected) + " was asked for");
    // The previous root vouches for this one with its own certificates, in date or not.
    tuf::KeyMap old_keys = m_policy.trusted_root_keys(previous, m_now, false);
    try {
        check_signatures(file, old_keys, previous.role(role).threshold, latest);
    } catch (const Error& e) {
        if (e.code_name() != update_failure_name(UpdateFailure::threshold)) throw;
        throw update_error(UpdateFailure::threshold, role,
                           "version " + std::to_string(expected) + " is not signed by the keys of version " +
                               std::to_string(previous.common.version) + ": " + e.message().substr(role.size() + 2));
    }
    tuf::KeyMap new_keys = m_policy.trusted_root_keys(root, m_now, latest);
    check_signatures(file, new_keys, root.role(role).threshold, latest);
    return root;
}

tuf::Timestamp ChainVerifier::timestamp(const tuf::Root& root, std::string_view bytes,
                                        std::optional<std::int64_t> cached_version) const {
    const std::string role(tuf::kTimestampRole);
    tuf::Signed file = parse(bytes, role);
    check_signatures(file, root.role_key_map(role), root.role(role).threshold, true);
    tuf::Timestamp ts = tuf::Timestamp::from_json(file.body());
    check_version(role, ts.common.version, cached_version);
    (void)listed_entry(ts.meta, std::string(tuf::kSnapshotRole), "timestamp");
    return ts;
}

tuf::Snapshot ChainVerifier::snapshot(const tuf::Root& root, std::string_view bytes, const tuf::Timestamp& timestamp,
                                      std::optional<std::int64_t> cached_version) const {
    const std::string role(tuf::kSnapshotRole);
    check_file(role, bytes, listed_entry(timestamp.meta, role, "timestamp"), "timestamp");
    tuf::Signed file = parse(bytes, role);
    check_signatures(file, root.role_key_map(role), root.role(role).threshold, true);
    tuf::Snapshot snap = tuf::Snapshot::from_json(file.body());
    check_version(role, snap.common.version, cached_version);
    return snap;
}

tuf::Targets ChainVerifier::targets(const tuf::Root& root, std::string_view bytes, const tuf::Snapshot& snapshot,
                                    std::optional<std::int64_t> cached_version) const {
    const std::string role(tuf::kTargetsRole);
    check_file(role, bytes, listed_entry(snapshot.meta, role, "snapshot"), "snapshot");
    tuf::Signed file = parse(bytes, role);
    check_signatures(file, root.role_key_map(role), root.role(role).threshold, true);
    tuf::Targets t = tuf::Targets::from_json(file.body(), role);
    check_version(role, t.common.version, cached_version);
    return t;
}

tuf::Targets ChainVerifier::delegation(const tuf::Targets& parent, std::string_view parent_role,
                                       const std::string& role, std::string_view bytes,
                                       const tuf::Snapshot& snapshot,
                                       std::optional<std::int64_t> cached_version) const {
    const tuf::DelegatedRole* delegated = parent.delegations.find(role);
    if (!tuf::is_direct_child(parent_role, role) || delegated == nullptr)
        throw update_error(UpdateFailure::unknown_delegation, role,
                           "not delegated by " + std::string(parent_role));
    check_file(role, bytes, listed_entry(snapshot.meta, role, "snapshot"), "snapshot");
    tuf::Signed file = parse(bytes, role);
    check_signatures(file, delegated->keys.select(parent.delegations.keys), delegated->keys.threshold, true);
    tuf::Targets t = tuf::Targets::from_json(file.body(), role);
    check_version(role, t.common.version, cached_version);
    return t;
}

} // namespace trustkey::trust
