// Keys of a root or delegations object ({keyid: key}) and a role's key list
// ({keyids, threshold}), shared by root.json and the delegations in targets files.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/trust/tuf/json_fields.h"
#include "tools/trust/tuf/key.h"

namespace trustkey::tuf {

using KeyMap = std::map<std::string, Key>; // key id -> key

struct RoleKeys {
    std::vector<std::string> keyids;
    std::int64_t threshold = 1;

    // Reads "keyids" and "threshold" (>= 1) from `value`.
    static RoleKeys from_json(const nlohmann::json& value, const FieldPath& at);
    // Writes "keyids" and "threshold" into `out`.
    void write(nlohmann::json& out) const;
    // The keys of `all` this role lists (ids not in `all` are left out).
    KeyMap select(const KeyMap& all) const;

    bool operator==(const RoleKeys&) const = default;
};

// Reads {keyid: key}; each id must be the key's id (notary refuses a mismatch).
KeyMap key_map_from_json(const nlohmann::json& value, const FieldPath& at);
nlohmann::json key_map_to_json(const KeyMap& keys);

} // namespace trustkey::tuf
