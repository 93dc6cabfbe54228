// The fields every role's "signed" object has: _type, expires, version.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/json_fields.h"

namespace trustkey::tuf {

struct SignedCommon {
    std::int64_t version = 1; // the first published version is 1
    Expiry expires{};

    // Reads version (>= 1) and expires, and checks "_type" is `type`.
    static SignedCommon from_json(const nlohmann::json& body, const FieldPath& at, std::string_view type);
    // Writes _type, expires and version into `out`.
    void write(nlohmann::json& out, std::string_view type) const;

    bool operator==(const SignedCommon&) const = default;
};

} // namespace trustkey::tuf
