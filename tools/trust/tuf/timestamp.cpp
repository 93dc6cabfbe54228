#include "tools/trust/tuf/timestamp.h"

#include "tools/trust/tuf/role_name.h"

namespace trustkey::tuf {

Timestamp Timestamp::from_json(const nlohmann::json& body) {
    FieldPath at{kTimestampRole, {}};
    Timestamp t;
    t.common = SignedCommon::from_json(body, at, "Timestamp");
    only_fields(body, at, {"_type", "expires", "meta", "version"});
    t.meta = files_from_json(object_at(body, at, "meta"), at.child("meta"));
    return t;
}

nlohmann::json Timestamp::to_json() const {
    nlohmann::json out = nlohmann::json::object();
    common.write(out, "Timestamp");
    out["meta"] = files_to_json(meta);
    return out;
}

} // namespace trustkey::tuf
