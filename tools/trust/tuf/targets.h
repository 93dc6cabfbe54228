// A targets file's signed part (targets.json and delegated targets/<name>.json):
// {_type:"Targets",delegations:{keys,roles},expires,targets,version}.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/trust/tuf/file_meta.h"
#include "tools/trust/tuf/key_set.h"
#include "tools/trust/tuf/signed_common.h"

namespace trustkey::tuf {

// One delegated role: {keyids,name,paths,threshold}; "paths" is left out when empty.
struct DelegatedRole {
    std::string name;
    RoleKeys keys;
    std::vector<std::string> paths; // prefixes of target names; "" allows all

    // True when a path prefix allows `target`.
    bool allows(std::string_view target) const;

    bool operator==(const DelegatedRole&) const = default;
};

struct Delegations {
    KeyMap keys;
    std::vector<DelegatedRole> roles;

    // The delegated role named `name`, nullptr when there is none.
    const DelegatedRole* find(std::string_view name) const;

    bool operator==(const Delegations&) const = default;
};

struct Targets {
    SignedCommon common;
    Files targets;
    Delegations delegations;

    // Parses the signed part of the file of `role` ("targets" or a delegation); delegated
    // roles must be direct children of `role`.
    static Targets from_json(const nlohmann::json& body, std::string_view role = "targets");
    nlohmann::json to_json() const;

    bool operator==(const Targets&) const = default;
};

} // namespace trustkey::tuf
