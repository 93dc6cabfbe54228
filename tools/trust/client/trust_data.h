// The verified TUF metadata of one repository after an update, with the raw bytes of
// each file, and the target lookup `trust verify` and `trust inspect` need.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/snapshot.h"
#include "tools/trust/tuf/targets.h"
#include "tools/trust/tuf/timestamp.h"

namespace trustkey::trust {

// One signed target (a tag) as a role lists it.
struct TargetInfo {
    std::string name;       // the tag
    std::string role;       // "targets/releases" or "targets" (or another delegation)
    std::string sha256_hex; // lower-case hex of the listed sha256
    std::int64_t length = 0;
};

struct TrustData {
    std::string gun;
    tuf::Root root;
    tuf::Timestamp timestamp;
    tuf::Snapshot snapshot;
    tuf::Targets targets;
    // Every verified delegation file, by role name.
    std::map<std::string, tuf::Targets> delegations;
    // How each verified delegation was delegated (keys, threshold, paths), by role name.
    std::map<std::string, tuf::DelegatedRole> delegated_roles;
    // role -> the exact bytes verified (what the cache holds).
    std::map<std::string, std::string> files;

    // The entries for `name` in `role` ("targets" or a verified delegation); nullopt when
    // the role does not list it, lists it without a sha256, or (for a delegation) its
    // paths or an ancestor's paths do not allow the name.
    std::optional<TargetInfo> find_in(std::string_view role, std::string_view name) const;
    // `name` in targets/releases when that role holds it, otherwise in targets.
    std::optional<TargetInfo> lookup(std::string_view name) const;
    // Whether the delegation chain down to `role` allows `name` (always for "targets").
    bool path_allowed(std::string_view role, std::string_view name) const;
};

} // namespace trustkey::trust
