#include "tools/ceremony/root_keys.h"

#include <nlohmann/json.hpp>

#include "lib/core/atomic_file.h"
#include "lib/core/error.h"
#include "tools/trust/client/root_certificate_policy.h"
#include "tools/trust/tuf/canonical_json.h"

namespace trustkey::ceremony {

namespace {

using nlohmann::json;

std::string string_field(const json& obj, const char* name, const std::filesystem::path& file) {
    if (!obj.is_object() || !obj.contains(name) || !obj[name].is_string())
        throw Error(Errc::malformed, file.string() + ": field \"" + name + "\" is missing or not a string");
    return obj[name].get<std::string>();
}

} // namespace

std::string RootKeys::to_json_text() const {
    json list = json::array();
    for (const RootKeyRecord& k : keys) {
        json entry = {{"token_serial", k.token_serial}, {"token_label", k.token_label}, {"key_name", k.key_name},
                      {"key_id", k.key_id},           {"x509_key_id", k.x509_key_id}, {"certificate", k.certificate},
                      {"public_key", k.public_key}};
        if (k.backup_allowed) entry["backup_allowed"] = *k.backup_allowed;
        if (!k.backups.empty()) {
            entry["backups"] = json::array();
            for (const BackupCopy& b : k.backups)
                entry["backups"].push_back({{"token_serial", b.token_serial}, {"token_label", b.token_label}});
        }
        list.push_back(std::move(entry));
    }
    return json{{"gun", gun}, {"threshold", threshold}, {"keys", list}}.dump(2) + "\n";
}

tuf::Key load_certificate_key(const std::filesystem::path& path) {
    const std::string pem = read_file(path);
    try {
        return tuf::Key::from_certificate_pem(pem);
    } catch (const Error& e) {
        throw Error(Errc::bad_key_format, path.string() + ": not a usable certificate (" + e.message() + ")");
    }
}

RootKeys RootKeys::load(const std::filesystem::path& dir) {
    const std::filesystem::path file = dir / kRootKeysFile;
    const json doc = tuf::parse_json(read_file(file), file.string());
    RootKeys out;
    out.gun = string_field(doc, "gun", file);
    if (!doc.contains("threshold") || !doc["threshold"].is_number_integer())
        throw Error(Errc::malformed, file.string() + ": field \"threshold\" is missing or not an integer");
    out.threshold = doc["threshold"].get<std::int64_t>();
    if (!doc.contains("keys") || !doc["keys"].is_array() || doc["keys"].empty())
        throw Error(Errc::malformed, file.string() + ": field \"keys\" is missing or empty");
    for (const json& k : doc["keys"]) {
        RootKeyRecord r{string_field(k, "token_serial", file), string_field(k, "token_label", file),
                        string_field(k, "key_name", file),     string_field(k, "key_id", file),
                        string_field(k, "x509_key_id", file),  string_field(k, "certificate", file),
                        string_field(k, "public_key", file),   {}, {}};
        if (k.contains("backup_allowed")) {
            if (!k["backup_allowed"].is_boolean())
                throw Error(Errc::malformed, file.string() + ": field \"backup_allowed\" is not true or false");
            r.backup_allowed = k["backup_allowed"].get<bool>();
        }
        if (k.contains("backups")) {
            if (!k["backups"].is_array())
                throw Error(Errc::malformed, file.string() + ": field \"backups\" is not a list");
            for (const json& b : k["backups"])
                r.backups.push_back({string_field(b, "token_serial", file), string_field(b, "token_label", file)});
        }
        const tuf::Key cert = load_certificate_key(dir / r.certificate);
        if (cert.id() != r.x509_key_id || cert.canonical_id() != r.key_id)
            throw Error(Errc::malformed, (dir / r.certificate).string() + " is not the certificate of root key " +
                                             r.key_id + " that " + file.string() + " records");
        const std::string problem = trust::RootCertificatePolicy(out.gun).problem(
            cert, std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now()), true);
        if (!problem.empty())
            throw Error(Errc::bad_key_format,
                        "root certificate " + (dir / r.certificate).string() + " " + problem);
        out.keys.push_back(std::move(r));
    }
    if (out.threshold < 1 || static_cast<std::size_t>(out.threshold) > out.keys.size())
        throw Error(Errc::malformed, file.string() + ": threshold " + std::to_string(out.threshold) +
                                         " does not fit " + std::to_string(out.keys.size()) + " keys");
    return out;
}

} // namespace trustkey::ceremony
