#include "tools/trust/tuf/json_fields.h"

#include <algorithm>

#include "lib/core/error.h"
#include "tools/trust/tuf/canonical_json.h"

namespace trustkey::tuf {

FieldPath FieldPath::child(std::string_view name) const {
    return {role, path.empty() ? std::string(name) : path + "." + std::string(name)};
}

void field_error(const FieldPath& at, std::string_view problem) {
    std::string where = at.path.empty() ? std::string("the top level") : "field \"" + at.path + "\"";
    throw Error(Errc::malformed, std::string(at.role) + ": " + where + " " + std::string(problem), 0, {},
                std::string(at.role));
}

namespace {

const nlohmann::json& member(const nlohmann::json& parent, const FieldPath& at, std::string_view name) {
    if (!parent.is_object()) field_error(at, "is not an object");
    auto it = parent.find(std::string(name));
    if (it == parent.end()) field_error(at.child(name), "is missing");
    return *it;
}

} // namespace

const nlohmann::json& object_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name) {
    const nlohmann::json& v = member(parent, at, name);
    if (!v.is_object()) field_error(at.child(name), "must be an object");
    return v;
}

const nlohmann::json& array_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name) {
    const nlohmann::json& v = member(parent, at, name);
    if (!v.is_array()) field_error(at.child(name), "must be a list");
    return v;
}

std::string string_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name) {
    return string_value(member(parent, at, name), at.child(name));
}

std::string string_value(const nlohmann::json& value, const FieldPath& at) {
    if (!value.is_string()) field_error(at, "must be a string");
    return value.get<std::string>();
}

std::int64_t integer_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name,
                        std::int64_t min) {
    const nlohmann::json& v = member(parent, at, name);
    if (!v.is_number_integer()) field_error(at.child(name), "must be an integer");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() >= kMaxJsonInteger)
        field_error(at.child(name), "is too large");
    std::int64_t n = v.get<std::int64_t>();
    if (n < min) field_error(at.child(name), "must be at least " + std::to_string(min));
    if (n >= static_cast<std::int64_t>(kMaxJsonInteger)) field_error(at.child(name), "is too large");
    return n;
}

bool bool_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name) {
    const nlohmann::json& v = member(parent, at, name);
    if (!v.is_boolean()) field_error(at.child(name), "must be true or false");
    return v.get<bool>();
}

Bytes base64_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name) {
    std::string s = string_at(parent, at, name);
    auto b = from_base64(s);
    if (!b) field_error(at.child(name), "is not standard base64");
    return *b;
}

void only_fields(const nlohmann::json& object, const FieldPath& at, std::initializer_list<std::string_view> allowed) {
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
            field_error(at.child(it.key()), "is not a known field");
    }
}

} // namespace trustkey::tuf
