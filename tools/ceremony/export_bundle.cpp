#include "tools/ceremony/export_bundle.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include <nlohmann/json.hpp>

#include "lib/core/atomic_file.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/ceremony/ceremony_context.h"
#include "tools/ceremony/root_keys.h"
#include "tools/trust/tuf/role_name.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::ceremony {

namespace {

// root.json must list exactly the certificates of root-keys.json with its threshold.
void check_root(const tuf::Signed& file, const RootKeys& keys, const std::filesystem::path& path) {
    const tuf::Root root = tuf::Root::from_json(file.body());
    const tuf::RoleKeys& role = root.role(tuf::kRootRole);
    std::vector<std::string> listed = role.keyids, recorded;
    for (const RootKeyRecord& r : keys.keys) recorded.push_back(r.x509_key_id);
    std::sort(listed.begin(), listed.end());
    std::sort(recorded.begin(), recorded.end());
    if (listed != recorded || role.threshold != keys.threshold)
        throw Error(Errc::invalid_argument, path.string() + " is not the root.json of the keys in " +
                                                (keys.gun.empty() ? std::string("root-keys.json") : keys.gun) +
                                                " (its root role lists other keys or another threshold)");
    file.verify(root.role_key_map(tuf::kRootRole), role.threshold);
}

} // namespace

void export_bundle(const ExportOptions& options, CeremonyContext& context) {
    if (std::filesystem::exists(options.out_dir))
        throw Error(Errc::already_exists, options.out_dir.string() + " exists; export into a new directory");
    const RootKeys keys = RootKeys::load(options.keys_dir);
    const std::filesystem::path root_path =
        options.root_json.empty() ? options.keys_dir / "root.json" : options.root_json;
    const std::string root_bytes = read_file(root_path);
    check_root(tuf::Signed::parse(root_bytes, std::string(tuf::kRootRole)), keys, root_path);

    std::map<std::string, std::string> files;  // bundle name -> content
    files.emplace("root.json", root_bytes);
    files.emplace(kRootKeysFile, read_file(options.keys_dir / kRootKeysFile));
    for (const RootKeyRecord& r : keys.keys) {
        files.emplace(r.certificate, read_file(options.keys_dir / r.certificate));
        files.emplace(r.public_key, read_file(options.keys_dir / r.public_key));
    }
    std::vector<std::string> ids;
    for (const RootKeyRecord& r : keys.keys) ids.push_back(r.x509_key_id);
    context.transcript().append(TranscriptEntry{
        "export", {}, ids,
        {{"gun", keys.gun}, {"dir", options.out_dir.string()}, {"root_json_sha256", to_hex(sha256(as_bytes(root_bytes)))}}});
    files.emplace(kBundleTranscript, read_file(context.transcript().path()));

    nlohmann::json manifest = {{"gun", keys.gun}, {"files", nlohmann::json::object()}};
    for (const auto& [name, content] : files) manifest["files"][name] = to_hex(sha256(as_bytes(content)));

    files.emplace(kBundleManifest, manifest.dump(2) + "\n");
    write_new_directory(options.out_dir, files);
}

} // namespace trustkey::ceremony
