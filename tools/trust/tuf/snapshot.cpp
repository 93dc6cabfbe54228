#include "tools/trust/tuf/snapshot.h"

#include "tools/trust/tuf/role_name.h"

namespace trustkey::tuf {

Snapshot Snapshot::from_json(const nlohmann::json& body) {
    FieldPath at{kSnapshotRole, {}};
    Snapshot s;
    s.common = SignedCommon::from_json(body, at, "Snapshot");
    only_fields(body, at, {"_type", "expires", "meta", "version"});
    s.meta = files_from_json(object_at(body, at, "meta"), at.child("meta"));
    return s;
}

nlohmann::json Snapshot::to_json() const {
    nlohmann::json out = nlohmann::json::object();
    common.write(out, "Snapshot");
    out["meta"] = files_to_json(meta);
    return out;
}

} // namespace trustkey::tuf
