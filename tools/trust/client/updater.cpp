#include "tools/trust/client/updater.h"

#include <deque>
#include <set>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/client/update_failure.h"
#include "tools/trust/tuf/role_name.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::trust {

namespace {

std::int64_t version_of(std::string_view bytes, const std::string& role) {
    tuf::Signed file = tuf::Signed::parse(bytes, role);
    return tuf::integer_at(file.body(), tuf::FieldPath{role, {}}, "version", 1);
}

} // namespace

Updater::Updater(notary::NotaryClient& client, std::filesystem::path trust_dir)
    : m_client(client), m_cache(std::move(trust_dir), client.gun()) {}

template <typename F>
auto Updater::from_server(const std::string& what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error& e) {
        // An HTTP answer (call "notary server", code = status) or a transport failure
        // (call "notary transport") from NotaryClient already names the server.
        if (e.errc() != Errc::io || e.call() == "notary server" || e.call() == "notary transport") throw;
        Error wrapped(Errc::io, "cannot reach the trust server " + m_client.base_url() + " for " + what + ": " +
                                    e.message(), e.code(), e.call(), m_client.gun());
        wrapped.set_code_name(e.code_name());
        throw wrapped;
    }
}

std::optional<std::int64_t> Updater::cached_version(const std::string& role) const {
    std::optional<std::string> bytes = m_cache.read(role);
    if (!bytes) return std::nullopt;
    try {
        return version_of(*bytes, role);
    } catch (const Error&) {
        return std::nullopt; // an unreadable cached file is replaced, not trusted
    }
}

std::string Updater::fetch_root(const ChainVerifier& verifier, TrustData& out) {
    const std::string role(tuf::kRootRole);
    std::optional<std::string> served = from_server("root", [&] { return m_client.get_role(role); });
    if (!served)
        throw Error(Errc::not_found, "the trust server has no trust data for \"" + m_client.gun() + "\"", 404, {},
                    m_client.gun());
    std::optional<std::string> cached = m_cache.read(role);
    if (!cached) {
        out.root = verifier.trusted_root(*served); // trust on first use
        return *served;
    }
    tuf::Root current;
    try {
        current = tuf::Root::from_json(tuf::Signed::parse(*cached, role).body());
    } catch (const Error& e) {
        throw Error(Errc::malformed, "the cached root " + m_cache.path_of(role).string() + " is unreadable (" +
                                         e.message() + "); remove it to trust the server's root again");
    }
    std::int64_t served_version = version_of(*served, role);
    ChainVerifier::check_version(role, served_version, current.common.version);
    if (served_version == current.common.version) {
        if (*served != *cached)
            throw update_error(UpdateFailure::version, role,
                               "the server's root.json version " + std::to_string(served_version) +
                                   " differs from the cached root of that version in " + m_cache.dir().string() +
                                   ": the repository's root was replaced, which is not a valid rotation");
        out.root = verifier.trusted_root(*cached);
        return *cached;
    }
    if (served_version - current.common.version > kMaxRootSteps)
        throw update_error(UpdateFailure::version, role,
                           "the server's version " + std::to_string(served_version) + " is more than " +
                               std::to_string(kMaxRootSteps) + " versions ahead of cached version " +
                               std::to_string(current.common.version));
    std::string bytes;
    for (std::int64_t v = current.common.version + 1; v <= served_version; ++v) {
        if (v == served_version) {
            bytes = *served;
        } else {
            std::optional<std::string> step =
                from_server("root", [&] { return m_client.get_role_version(role, static_cast<std::uint64_t>(v)); });
            if (!step)
                throw update_error(UpdateFailure::missing, role,
                                   "the server has no version " + std::to_string(v) + " to rotate through");
            bytes = std::move(*step);
        }
        current = verifier.next_root(current, bytes, v == served_version);
    }
    out.root = std::move(current);
    return bytes;
}

std::string Updater::fetch_listed(const std::string& role, const tuf::FileMeta& listed) {
    // The cached file serves when it is the one listed; otherwise fetch it by its hash.
    if (std::optional<std::string> cached = m_cache.read(role)) {
        try {
            ChainVerifier::check_file(role, *cached, listed, "the listing");
            return *cached;
        } catch (const Error&) {
        }
    }
    auto hash = listed.hashes.find("sha256");
    std::optional<std::string> bytes = from_server(role, [&] {
        return hash != listed.hashes.end() ? m_client.get_role_by_hash(role, to_hex(hash->second))
                                           : m_client.get_role(role);
    });
    if (!bytes) throw update_error(UpdateFailure::missing, role, "the trust server does not have the listed file");
    return std::move(*bytes);
}

void Updater::load_delegations(const ChainVerifier& verifier, TrustData& out) {
    // Breadth first from targets; each file may delegate only to its direct children.
    std::deque<std::string> parents{std::string(tuf::kTargetsRole)};
    while (!parents.empty()) {
        std::string parent_role = std::move(parents.front());
        parents.pop_front();
        const tuf::Targets& parent =
            parent_role == tuf::kTargetsRole ? out.targets : out.delegations.at(parent_role);
        for (const tuf::DelegatedRole& child : parent.delegations.roles) {
            auto listed = out.snapshot.meta.find(child.name);
            if (listed == out.snapshot.meta.end() || out.delegations.contains(child.name)) continue;
            if (out.delegations.size() >= kMaxDelegations)
                throw update_error(UpdateFailure::unknown_delegation, child.name,
                                   "more than " + std::to_string(kMaxDelegations) + " delegations");
            std::string bytes = fetch_listed(child.name, listed->second);
            // std::map keeps `parent` in place while children are added.
            tuf::Targets verified = verifier.delegation(parent, parent_role, child.name, bytes, out.snapshot,
                                                        cached_version(child.name));
            out.delegations.emplace(child.name, std::move(verified));
            out.delegated_roles.emplace(child.name, child);
            out.files.emplace(child.name, std::move(bytes));
            parents.push_back(child.name);
        }
    }
    // Snapshot entries no verified role delegates are not loaded: the server keeps
    // listing a delegation's file after its parent dropped it (signer remove), and the
    // notary client skips them too. Nothing is ever looked up in them.
}

TrustData Updater::update(tuf::Expiry now) {
    TrustData out = verify(now);
    m_cache.write(out.files); // only once everything above holds
    return out;
}

TrustData Updater::verify(tuf::Expiry now) {
    ChainVerifier verifier(m_client.gun(), now);
    TrustData out;
    out.gun = m_client.gun();
    out.files[std::string(tuf::kRootRole)] = fetch_root(verifier, out);

    const std::string ts_role(tuf::kTimestampRole);
    std::optional<std::string> ts = from_server(ts_role, [&] { return m_client.get_role(ts_role); });
    if (!ts) throw update_error(UpdateFailure::missing, ts_role, "the trust server has no timestamp");
    out.timestamp = verifier.timestamp(out.root, *ts, cached_version(ts_role));
    out.files[ts_role] = std::move(*ts);

    const std::string snap_role(tuf::kSnapshotRole);
    std::string snap = fetch_listed(snap_role, out.timestamp.meta.at(snap_role));
    out.snapshot = verifier.snapshot(out.root, snap, out.timestamp, cached_version(snap_role));
    out.files[snap_role] = std::move(snap);

    const std::string targets_role(tuf::kTargetsRole);
    auto targets_meta = out.snapshot.meta.find(targets_role);
    if (targets_meta == out.snapshot.meta.end())
        throw update_error(UpdateFailure::missing, targets_role, "the snapshot does not list it");
    std::string targets = fetch_listed(targets_role, targets_meta->second);
    out.targets = verifier.targets(out.root, targets, out.snapshot, cached_version(targets_role));
    out.files[targets_role] = std::move(targets);

    load_delegations(verifier, out);
    return out;
}

} // namespace trustkey::trust
