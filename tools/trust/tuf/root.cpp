#include "tools/trust/tuf/root.h"

#include "lib/core/error.h"
#include "tools/trust/tuf/role_name.h"

namespace trustkey::tuf {

Root Root::from_json(const nlohmann::json& body) {
    FieldPath at{kRootRole, {}};
    Root r;
    r.common = SignedCommon::from_json(body, at, "Root");
    only_fields(body, at, {"_type", "consistent_snapshot", "expires", "keys", "roles", "version"});
    r.consistent_snapshot = bool_at(body, at, "consistent_snapshot");
    r.keys = key_map_from_json(object_at(body, at, "keys"), at.child("keys"));
    const nlohmann::json& roles = object_at(body, at, "roles");
    FieldPath rp = at.child("roles");
    for (auto it = roles.begin(); it != roles.end(); ++it) {
        if (!is_base_role(it.key())) field_error(rp.child(it.key()), "is not a base role");
        FieldPath one = rp.child(it.key());
        only_fields(it.value(), one, {"keyids", "threshold"});
        r.roles.emplace(it.key(), RoleKeys::from_json(it.value(), one));
    }
    for (auto name : {kRootRole, kTargetsRole, kSnapshotRole, kTimestampRole})
        if (!r.roles.contains(std::string(name))) field_error(rp.child(name), "is missing");
    return r;
}

nlohmann::json Root::to_json() const {
    nlohmann::json out = nlohmann::json::object();
    common.write(out, "Root");
    out["consistent_snapshot"] = consistent_snapshot;
    out["keys"] = key_map_to_json(keys);
    nlohmann::json roles_json = nlohmann::json::object();
    for (const auto& [name, rk] : roles) {
        nlohmann::json one = nlohmann::json::object();
        rk.write(one);
        roles_json[name] = one;
    }
    out["roles"] = roles_json;
    return out;
}

const RoleKeys& Root::role(std::string_view name) const {
    auto it = roles.find(std::string(name));
    if (it == roles.end()) throw Error(Errc::not_found, "root lists no role \"" + std::string(name) + "\"");
    return it->second;
}

} // namespace trustkey::tuf
