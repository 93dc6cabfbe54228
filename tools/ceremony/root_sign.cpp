#include "tools/ceremony/root_sign.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "lib/core/atomic_file.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/ceremony/ceremony_context.h"
#include "tools/ceremony/role_key_file.h"
#include "tools/ceremony/root_keys.h"
#include "tools/trust/client/root_certificate_policy.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/role_name.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::ceremony {

namespace {

// Asks the operator to insert the next token when a person is at the terminal.
void prompt_for_token(const std::string& uri, std::size_t position) {
    if (::isatty(STDIN_FILENO) != 1 || uri == kTpmToken) return;
    std::cerr << "Insert token " << position << " (" << uri << ") and press Enter: " << std::flush;
    std::string ignored;
    std::getline(std::cin, ignored);
}

struct Previous {
    tuf::Root root;
    std::map<std::string, std::string> x509_by_canonical;  // token key id -> id root.json lists
};

std::optional<Previous> load_previous(const std::filesystem::path& path, const std::string& gun) {
    if (path.empty()) return std::nullopt;
    Previous prev;
    try {
        const tuf::Signed file = tuf::Signed::parse(read_file(path), std::string(tuf::kRootRole));
        prev.root = tuf::Root::from_json(file.body());
    } catch (const Error& e) {
        throw Error(Errc::malformed, "previous root " + path.string() + ": " + e.message());
    }
    for (const auto& [id, key] : prev.root.role_key_map(tuf::kRootRole)) {
        const std::string problem = trust::RootCertificatePolicy(gun).problem(key, tuf::Expiry{}, false);
        if (!problem.empty())
            throw Error(Errc::malformed, "previous root " + path.string() + " is not a root of " + gun + ": key " + id +
                                             " " + problem);
        prev.x509_by_canonical.emplace(key.canonical_id(), id);
    }
    return prev;
}

tuf::Key role_key(const std::filesystem::path& file, std::string_view role, const std::optional<Previous>& prev) {
    if (!file.empty()) return load_role_key(file, role);
    if (!prev)
        throw Error(Errc::invalid_argument, "give the " + std::string(role) + " key (--" + std::string(role) + ")");
    const tuf::KeyMap keys = prev->root.role_key_map(role);
    if (keys.size() != 1)
        throw Error(Errc::invalid_argument, "the previous root lists " + std::to_string(keys.size()) + " " +
                                                std::string(role) + " keys; give the " + std::string(role) +
                                                " key (--" + std::string(role) + ")");
    return keys.begin()->second;
}

tuf::Root build_root(const RootSignOptions& options, const RootKeys& keys, const std::optional<Previous>& prev) {
    const std::int64_t previous_version = prev ? prev->root.common.version : 0;
    const std::int64_t version = options.version == 0 ? previous_version + 1 : options.version;
    if (version < 1) throw Error(Errc::invalid_argument, "--version must be at least 1");
    if (prev && version <= previous_version)
        throw Error(Errc::invalid_argument, "--version " + std::to_string(version) +
                                                " is not above the previous root's version " +
                                                std::to_string(previous_version));
    if (options.expires_days < 1) throw Error(Errc::invalid_argument, "--expires-days must be at least 1");
    tuf::Root root;
    root.common.version = version;
    root.common.expires = tuf::expiry_after(std::chrono::hours(24) * options.expires_days);
    tuf::RoleKeys root_role;
    root_role.threshold = keys.threshold;
    for (const RootKeyRecord& r : keys.keys) {
        const tuf::Key cert = load_certificate_key(options.keys_dir / r.certificate);
        root.keys.insert_or_assign(cert.id(), cert);
        root_role.keyids.push_back(cert.id());
    }
    root.roles[std::string(tuf::kRootRole)] = root_role;
    const std::pair<std::string_view, const std::filesystem::path*> online[] = {
        {tuf::kTargetsRole, &options.targets_key},
        {tuf::kSnapshotRole, &options.snapshot_key},
        {tuf::kTimestampRole, &options.timestamp_key}};
    for (const auto& [role, path] : online) {
        const tuf::Key key = role_key(*path, role, prev);
        for (const RootKeyRecord& r : keys.keys)
            if (key.canonical_id() == r.key_id)
                throw Error(Errc::invalid_argument, "the " + std::string(role) + " key " + path->string() +
                                                        " is a root key; online roles need keys of their own");
        root.keys.insert_or_assign(key.id(), key);
        root.roles[std::string(role)] = tuf::RoleKeys{{key.id()}, 1};
    }
    return root;
}

} // namespace

std::filesystem::path root_sign(const RootSignOptions& options, CeremonyContext& context) {
    const RootKeys keys = RootKeys::load(options.keys_dir);
    const std::optional<Previous> prev = load_previous(options.previous, keys.gun);
    if (!prev && options.tokens.size() < static_cast<std::size_t>(keys.threshold))
        throw Error(Errc::invalid_argument, "root.json of " + keys.gun + " needs " + std::to_string(keys.threshold) +
                                                " root signatures; only " + std::to_string(options.tokens.size()) +
                                                " --token given");
    const tuf::Root root = build_root(options, keys, prev);
    tuf::Signed file(std::string(tuf::kRootRole), root.to_json());

    // Token key id (canonical) -> the id the signature is listed under.
    std::map<std::string, std::string> signers;
    for (const RootKeyRecord& r : keys.keys) signers.emplace(r.key_id, r.x509_key_id);
    if (prev) signers.insert(prev->x509_by_canonical.begin(), prev->x509_by_canonical.end());

    std::set<std::string> used;
    for (std::size_t i = 0; i < options.tokens.size(); ++i) {
        prompt_for_token(options.tokens[i], i + 1);
        CeremonyToken token = context.open_token(options.tokens[i], i + 1);
        std::vector<std::string> signed_with;
        for (const backend::KeyInfo& k : token.backend().list_keys()) {
            const auto it = signers.find(k.id);
            if (it == signers.end()) continue;
            if (!used.insert(k.id).second)
                throw Error(Errc::invalid_argument, token.description() + " holds root key " + it->second +
                                                        ", which already signed (a token given twice?)");
            const tuf::SigningKey signing{it->second, "ecdsa"};
            file.sign(std::span(&signing, 1),
                      [&](const std::string&, std::string_view, std::span<const std::uint8_t> msg) {
                          return token.sign(k, sha256(msg));
                      });
            signed_with.push_back(it->second);
        }
        if (signed_with.empty())
            throw Error(Errc::not_found, token.description() + " holds none of the root keys of " + keys.gun +
                                             (prev ? " (new or previous)" : ""));
        context.transcript().append(TranscriptEntry{"root sign: signature", {token.serial()}, signed_with,
                                                    {{"gun", keys.gun}, {"version", root.common.version}}});
    }
    file.verify(root.role_key_map(tuf::kRootRole), keys.threshold);
    if (prev) {
        try {
            file.verify(prev->root.role_key_map(tuf::kRootRole), prev->root.role(tuf::kRootRole).threshold);
        } catch (const Error& e) {
            throw Error(Errc::denied, "the new root.json has fewer signatures by the previous root keys than the "
                                      "previous root's threshold of " +
                                          std::to_string(prev->root.role(tuf::kRootRole).threshold) +
                                          "; clients would not follow it (give the tokens of the previous keys)");
        }
    }

    const std::filesystem::path out = options.out.empty() ? options.keys_dir / "root.json" : options.out;
    const std::string bytes = file.to_file();
    write_file_atomically(out, bytes);
    std::vector<std::string> ids;
    for (const tuf::Signature& s : file.signatures()) ids.push_back(s.keyid);
    nlohmann::json details = {{"gun", keys.gun},
                              {"version", root.common.version},
                              {"expires", tuf::format_expiry(root.common.expires)},
                              {"threshold", keys.threshold},
                              {"file", out.filename().string()},
                              {"root_json_sha256", to_hex(sha256(as_bytes(bytes)))}};
    if (prev) details["previous_version"] = prev->root.common.version;
    context.transcript().append(TranscriptEntry{"root sign: done", {}, ids, details});
    return out;
}

} // namespace trustkey::ceremony
