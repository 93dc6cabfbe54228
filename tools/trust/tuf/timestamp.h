// timestamp.json's signed part: {_type:"Timestamp",expires,meta:{snapshot:{hashes,length}},version}.
#pragma once

#include <nlohmann/json.hpp>

#include "tools/trust/tuf/file_meta.h"
#include "tools/trust/tuf/signed_common.h"

namespace trustkey::tuf {

struct Timestamp {
    SignedCommon common;
    Files meta; // "snapshot" -> the snapshot file's hashes and length

    static Timestamp from_json(const nlohmann::json& body);
    nlohmann::json to_json() const;

    bool operator==(const Timestamp&) const = default;
};

} // namespace trustkey::tuf
