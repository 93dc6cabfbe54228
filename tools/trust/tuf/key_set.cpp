#include "tools/trust/tuf/key_set.h"

namespace trustkey::tuf {

RoleKeys RoleKeys::from_json(const nlohmann::json& value, const FieldPath& at) {
    if (!value.is_object()) field_error(at, "must be an object");
    RoleKeys r;
    const nlohmann::json& ids = array_at(value, at, "keyids");
    FieldPath ip = at.child("keyids");
    for (const auto& id : ids) r.keyids.push_back(string_value(id, ip));
    r.threshold = integer_at(value, at, "threshold", 1);
    return r;
}

void RoleKeys::write(nlohmann::json& out) const {
    out["keyids"] = nlohmann::json::array();
    for (const auto& id : keyids) out["keyids"].push_back(id);
    out["threshold"] = threshold;
}

KeyMap RoleKeys::select(const KeyMap& all) const {
    KeyMap out;
    for (const auto& id : keyids)
        if (auto it = all.find(id); it != all.end()) out.emplace(id, it->second);
    return out;
}

KeyMap key_map_from_json(const nlohmann::json& value, const FieldPath& at) {
    if (!value.is_object()) field_error(at, "must be an object");
    KeyMap keys;
    for (auto it = value.begin(); it != value.end(); ++it) {
        FieldPath kp = at.child(it.key());
        Key key = Key::from_json(it.value(), kp.role, kp.path);
        if (key.id() != it.key()) field_error(kp, "is listed under an id that is not the key's id " + key.id());
        keys.emplace(it.key(), std::move(key));
    }
    return keys;
}

nlohmann::json key_map_to_json(const KeyMap& keys) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [id, key] : keys) out[id] = key.to_json();
    return out;
}

} // namespace trustkey::tuf
