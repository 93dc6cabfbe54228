// root.json's signed part: {_type:"Root",consistent_snapshot,expires,keys,roles,version}.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/trust/tuf/key_set.h"
#include "tools/trust/tuf/signed_common.h"

namespace trustkey::tuf {

struct Root {
    SignedCommon common;
    bool consistent_snapshot = false;
    KeyMap keys;
    std::map<std::string, RoleKeys> roles; // root, targets, snapshot, timestamp

    // Parses and checks the signed part: every base role present, no other role.
    static Root from_json(const nlohmann::json& body);
    nlohmann::json to_json() const;
    // The keys `role` lists; throws Error(not_found) when root does not list the role.
    const RoleKeys& role(std::string_view name) const;
    KeyMap role_key_map(std::string_view name) const { return role(name).select(keys); }

    bool operator==(const Root&) const = default;
};

} // namespace trustkey::tuf
