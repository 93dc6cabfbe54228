#include "tools/trust/tuf/targets.h"

#include <set>

#include "lib/core/error.h"
#include "tools/trust/tuf/role_name.h"

namespace trustkey::tuf {

bool DelegatedRole::allows(std::string_view target) const {
    for (const auto& p : paths)
        if (target.starts_with(p)) return true;
    return false;
}

const DelegatedRole* Delegations::find(std::string_view name) const {
    for (const auto& r : roles)
        if (r.name == name) return &r;
    return nullptr;
}

namespace {

DelegatedRole delegated_role_from_json(const nlohmann::json& value, const FieldPath& at, std::string_view parent) {
    if (!value.is_object()) field_error(at, "must be an object");
    only_fields(value, at, {"keyids", "name", "paths", "threshold"});
    DelegatedRole r;
    r.name = string_at(value, at, "name");
    if (!is_delegation(r.name)) field_error(at.child("name"), "\"" + r.name + "\" is not a valid delegation name");
    if (!is_direct_child(parent, r.name))
        field_error(at.child("name"), "\"" + r.name + "\" is not a direct child of " + std::string(parent));
    r.keys = RoleKeys::from_json(value, at);
    if (auto it = value.find("paths"); it != value.end() && !it->is_null()) {
        const nlohmann::json& paths = array_at(value, at, "paths");
        FieldPath pp = at.child("paths");
        for (const auto& p : paths) r.paths.push_back(string_value(p, pp));
    }
    return r;
}

} // namespace

Targets Targets::from_json(const nlohmann::json& body, std::string_view role) {
    if (role != kTargetsRole && !is_delegation(role))
        throw Error(Errc::invalid_argument, "\"" + std::string(role) + "\" is not a targets role");
    FieldPath at{role, {}};
    Targets t;
    t.common = SignedCommon::from_json(body, at, "Targets");
    only_fields(body, at, {"_type", "delegations", "expires", "targets", "version"});
    t.targets = files_from_json(object_at(body, at, "targets"), at.child("targets"));
    const nlohmann::json& del = object_at(body, at, "delegations");
    FieldPath dp = at.child("delegations");
    only_fields(del, dp, {"keys", "roles"});
    t.delegations.keys = key_map_from_json(object_at(del, dp, "keys"), dp.child("keys"));
    const nlohmann::json& roles = array_at(del, dp, "roles");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < roles.size(); ++i) {
        FieldPath rp = dp.child("roles").child(std::to_string(i));
        DelegatedRole r = delegated_role_from_json(roles[i], rp, role);
        if (!seen.insert(r.name).second) field_error(rp.child("name"), "\"" + r.name + "\" is delegated twice");
        t.delegations.roles.push_back(std::move(r));
    }
    return t;
}

nlohmann::json Targets::to_json() const {
    nlohmann::json out = nlohmann::json::object();
    common.write(out, "Targets");
    out["targets"] = files_to_json(targets);
    nlohmann::json roles = nlohmann::json::array();
    for (const auto& r : delegations.roles) {
        nlohmann::json one = {{"name", r.name}};
        r.keys.write(one);
        if (!r.paths.empty()) {
            one["paths"] = nlohmann::json::array();
            for (const auto& p : r.paths) one["paths"].push_back(p);
        }
        roles.push_back(std::move(one));
    }
    out["delegations"] = {{"keys", key_map_to_json(delegations.keys)}, {"roles", std::move(roles)}};
    return out;
}

} // namespace trustkey::tuf
