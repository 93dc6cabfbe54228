#include "tools/trust/tuf/file_meta.h"

#include <openssl/sha.h>

namespace trustkey::tuf {

namespace {

Bytes sha512_of(std::span<const std::uint8_t> content) {
    Bytes out(SHA512_DIGEST_LENGTH);
    SHA512(content.data(), content.size(), out.data());
    return out;
}

} // namespace

FileMeta FileMeta::of(std::span<const std::uint8_t> content, bool with_sha512) {
    FileMeta m;
    m.hashes["sha256"] = sha256(content);
    if (with_sha512) m.hashes["sha512"] = sha512_of(content);
    m.length = static_cast<std::int64_t>(content.size());
    return m;
}

FileMeta FileMeta::from_json(const nlohmann::json& value, const FieldPath& at) {
    if (!value.is_object()) field_error(at, "must be an object");
    only_fields(value, at, {"custom", "hashes", "length"});
    FileMeta m;
    const nlohmann::json& hashes = object_at(value, at, "hashes");
    if (hashes.empty()) field_error(at.child("hashes"), "lists no hash");
    FieldPath hp = at.child("hashes");
    for (auto it = hashes.begin(); it != hashes.end(); ++it) m.hashes[it.key()] = base64_at(hashes, hp, it.key());
    auto check_size = [&](const char* name, std::size_t size) {
        auto it = m.hashes.find(name);
        if (it != m.hashes.end() && it->second.size() != size)
            field_error(hp.child(name), "must be " + std::to_string(size) + " bytes");
    };
    check_size("sha256", 32);
    check_size("sha512", 64);
    m.length = integer_at(value, at, "length", 0);
    if (auto it = value.find("custom"); it != value.end() && !it->is_null()) m.custom = *it;
    return m;
}

nlohmann::json FileMeta::to_json() const {
    nlohmann::json h = nlohmann::json::object();
    for (const auto& [name, digest] : hashes) h[name] = to_base64(digest);
    nlohmann::json out = {{"hashes", h}, {"length", length}};
    if (custom) out["custom"] = *custom;
    return out;
}

bool FileMeta::matches(std::span<const std::uint8_t> content) const {
    if (length != static_cast<std::int64_t>(content.size())) return false;
    // Only the hashes we can compute count; an entry with none of them does not match.
    bool checked = false;
    for (const auto& [name, digest] : hashes) {
        if (name == "sha256") {
            if (digest != sha256(content)) return false;
            checked = true;
        } else if (name == "sha512") {
            if (digest != sha512_of(content)) return false;
            checked = true;
        }
    }
    return checked;
}

Files files_from_json(const nlohmann::json& value, const FieldPath& at) {
    if (!value.is_object()) field_error(at, "must be an object");
    Files files;
    for (auto it = value.begin(); it != value.end(); ++it)
        files.emplace(it.key(), FileMeta::from_json(it.value(), at.child(it.key())));
    return files;
}

nlohmann::json files_to_json(const Files& files) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, meta] : files) out[name] = meta.to_json();
    return out;
}

} // namespace trustkey::tuf
