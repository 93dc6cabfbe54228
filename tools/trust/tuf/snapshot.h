// snapshot.json's signed part: {_type:"Snapshot",expires,meta:{role:{hashes,length}},version}.
#pragma once

#include <nlohmann/json.hpp>

#include "tools/trust/tuf/file_meta.h"
#include "tools/trust/tuf/signed_common.h"

namespace trustkey::tuf {

struct Snapshot {
    SignedCommon common;
    Files meta; // role name (root, targets, targets/<name>) -> its file's hashes and length

    static Snapshot from_json(const nlohmann::json& body);
    nlohmann::json to_json() const;

    bool operator==(const Snapshot&) const = default;
};

} // namespace trustkey::tuf
