#include "tools/trust/tuf/signed_common.h"

#include "lib/core/error.h"

namespace trustkey::tuf {

SignedCommon SignedCommon::from_json(const nlohmann::json& body, const FieldPath& at, std::string_view type) {
    if (!body.is_object()) field_error(at, "must be an object");
    std::string t = string_at(body, at, "_type");
    if (t != type) field_error(at.child("_type"), "is \"" + t + "\", expected \"" + std::string(type) + "\"");
    SignedCommon c;
    c.version = integer_at(body, at, "version", 1);
    std::string expires = string_at(body, at, "expires");
    try {
        c.expires = parse_expiry(expires);
    } catch (const Error& e) {
        field_error(at.child("expires"), e.message());
    }
    return c;
}

void SignedCommon::write(nlohmann::json& out, std::string_view type) const {
    out["_type"] = type;
    out["expires"] = format_expiry(expires);
    out["version"] = version;
}

} // namespace trustkey::tuf
