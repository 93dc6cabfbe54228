// A file entry in targets, snapshot and timestamp metadata:
// {"custom":…?,"hashes":{"sha256":B64[,"sha512":B64]},"length":N}.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "tools/trust/tuf/json_fields.h"

namespace trustkey::tuf {

struct FileMeta {
    std::map<std::string, Bytes> hashes; // algorithm name -> raw digest
    std::int64_t length = 0;
    std::optional<nlohmann::json> custom;

    // sha256 (and sha512 when asked) and length of `content`.
    static FileMeta of(std::span<const std::uint8_t> content, bool with_sha512 = false);
    static FileMeta from_json(const nlohmann::json& value, const FieldPath& at);
    nlohmann::json to_json() const;
    // True when `content` has this length and every listed hash (sha256/sha512) matches.
    bool matches(std::span<const std::uint8_t> content) const;

    bool operator==(const FileMeta&) const = default;
};

// name -> entry, as "targets" and "meta" hold them.
using Files = std::map<std::string, FileMeta>;

Files files_from_json(const nlohmann::json& value, const FieldPath& at);
nlohmann::json files_to_json(const Files& files);

} // namespace trustkey::tuf
