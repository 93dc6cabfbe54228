#include "tools/ceremony/root_sign.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <set>

#include "daemon/core/encoding.h"
#include "daemon/core/error.h"
#include "tools/ceremony/atomic_file.h"
#include "tools/ceremony/ceremony_context.h"
#include "tools/ceremony/role_key_file.h"
#include "tools/ceremony/root_keys.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/role_name.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::ceremony {

namespace {

// Asks the operator to insert the next token when a person is at the terminal.
void prompt_for_token(const std::string& uri, std::size_t position) {
    if (::isatty(STDIN_FILENO) != 1) return;
    std::cerr << "Insert token " << position << " (" << uri << ") and press Enter: " << std::flush;
    std::string ignored;
    std::getline(std::cin, ignored);
}

tuf::Root build_root(const RootSignOptions& options, const RootKeys& keys) {
    if (options.version < 1) throw Error(Errc::invalid_argument, "--version must be at least 1");
    if (options.expires_days < 1) throw Error(Errc::invalid_argument, "--expires-days must be at least 1");
    tuf::Root root;
    root.common.version = options.version;
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
        const tuf::Key key = load_role_key(*path, role);
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
    if (options.tokens.size() < static_cast<std::size_t>(keys.threshold))
        throw Error(Errc::invalid_argument, "root.json of " + keys.gun + " needs " + std::to_string(keys.threshold) +
                                                " root signatures; only " + std::to_string(options.tokens.size()) +
                                                " --token given");
    const tuf::Root root = build_root(options, keys);
    tuf::Signed file(std::string(tuf::kRootRole), root.to_json());

    std::set<std::string> used;
    for (std::size_t i = 0; i < options.tokens.size(); ++i) {
        prompt_for_token(options.tokens[i], i + 1);
        CeremonyToken token = context.open_token(options.tokens[i], i + 1);
        std::optional<backend::KeyInfo> found;
        const RootKeyRecord* record = nullptr;
        for (const backend::KeyInfo& k : token.backend().list_keys())
            for (const RootKeyRecord& r : keys.keys)
                if (k.id == r.key_id) {
                    found = k;
                    record = &r;
                }
        if (!found)
            throw Error(Errc::not_found, token.description() + " holds none of the root keys of " + keys.gun);
        if (!used.insert(record->key_id).second)
            throw Error(Errc::invalid_argument, token.description() + " holds root key " + record->x509_key_id +
                                                    ", which already signed (a token given twice?)");
        const tuf::SigningKey signing{record->x509_key_id, "ecdsa"};
        file.sign(std::span(&signing, 1), [&](const std::string&, std::string_view, std::span<const std::uint8_t> msg) {
            return token.backend().sign(*found, backend::HashAlg::sha256, sha256(msg));
        });
        context.transcript().append(TranscriptEntry{"root sign: signature", {token.serial()}, {record->x509_key_id},
                                                    {{"gun", keys.gun}, {"version", options.version}}});
    }
    file.verify(root.role_key_map(tuf::kRootRole), keys.threshold);

    const std::filesystem::path out = options.out.empty() ? options.keys_dir / "root.json" : options.out;
    const std::string bytes = file.to_file();
    write_file_atomically(out, bytes);
    std::vector<std::string> ids;
    for (const tuf::Signature& s : file.signatures()) ids.push_back(s.keyid);
    context.transcript().append(TranscriptEntry{
        "root sign: done", {}, ids,
        {{"gun", keys.gun}, {"version", options.version}, {"expires", tuf::format_expiry(root.common.expires)},
         {"threshold", keys.threshold}, {"file", out.filename().string()},
         {"root_json_sha256", to_hex(sha256(as_bytes(bytes)))}}});
    return out;
}

} // namespace trustkey::ceremony
