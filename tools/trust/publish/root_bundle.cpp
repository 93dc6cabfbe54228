#include "tools/trust/publish/root_bundle.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/tuf/canonical_json.h"
#include "tools/trust/tuf/role_name.h"

namespace trustkey::trust {

namespace {

namespace fs = std::filesystem;

constexpr const char* kManifest = "bundle.json";
constexpr const char* kRootFile = "root.json";
constexpr const char* kRootKeysFile = "root-keys.json";

std::string read_bundle_file(const fs::path& path, const std::string& where) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(Errc::io, where + ": cannot open " + path.filename().string(), 0, "open", path.string());
    std::string data(RootBundle::kMaxFileSize + 1, '\0');
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    if (in.bad()) throw Error(Errc::io, where + ": cannot read " + path.filename().string(), 0, "read", path.string());
    data.resize(static_cast<std::size_t>(in.gcount()));
    if (data.size() > RootBundle::kMaxFileSize)
        throw Error(Errc::io, where + ": " + path.filename().string() + " is larger than " +
                                  std::to_string(RootBundle::kMaxFileSize) + " bytes");
    return data;
}

// A name bundle.json may list: one plain file name in the bundle's directory.
bool plain_file_name(const std::string& name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
           name.find('\0') == std::string::npos;
}

} // namespace

RootBundle RootBundle::load(const fs::path& dir, const std::string& gun, tuf::Expiry now) {
    const std::string where = "root bundle " + dir.string();
    const nlohmann::json manifest = [&] {
        try {
            return tuf::parse_json(read_bundle_file(dir / kManifest, where), kManifest);
        } catch (const Error& e) {
            if (e.errc() == Errc::io) throw;
            throw Error(Errc::malformed, where + ": " + e.message());
        }
    }();
    if (!manifest.is_object() || !manifest.contains("gun") || !manifest["gun"].is_string() ||
        !manifest.contains("files") || !manifest["files"].is_object())
        throw Error(Errc::malformed, where + ": bundle.json has no \"gun\" string and \"files\" object");
    const nlohmann::json& files = manifest["files"];
    for (const char* required : {kRootFile, kRootKeysFile})
        if (!files.contains(required)) throw Error(Errc::malformed, where + ": bundle.json does not list " + required);

    RootBundle bundle;
    bundle.dir = dir;
    for (const auto& [name, hash] : files.items()) {
        if (!plain_file_name(name) || !hash.is_string())
            throw Error(Errc::malformed, where + ": bundle.json lists \"" + name + "\", not a file name with its "
                                                 "SHA-256");
        const std::string content = read_bundle_file(dir / name, where);
        const std::string actual = to_hex(sha256(as_bytes(content)));
        if (actual != hash.get<std::string>())
            throw Error(Errc::denied, where + ": " + name + " has SHA-256 " + actual + ", not " +
                                          hash.get<std::string>() + " as bundle.json lists (changed after export)");
        if (name == kRootFile) bundle.root_bytes = content;
    }

    bundle.gun = manifest["gun"].get<std::string>();
    if (bundle.gun != gun)
        throw Error(Errc::denied, where + " is for " + bundle.gun + ", not for " + gun);
    try {
        bundle.root = ChainVerifier(gun, now).trusted_root(bundle.root_bytes);
    } catch (const Error& e) {
        Error out(e.errc() == Errc::malformed ? Errc::malformed : Errc::denied,
                  where + ": root.json does not hold as a root of " + gun + ": " + e.message(), e.code(), e.call(),
                  e.subject());
        out.set_code_name(e.code_name());
        throw out;
    }
    return bundle;
}

} // namespace trustkey::trust
