// Reading TUF metadata fields with errors that name the role and the field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"

namespace trustkey::tuf {

// Where a value sits, for error text: the role and the path of the field ("keys.ab12.keytype").
struct FieldPath {
    std::string_view role;
    std::string path;

    FieldPath child(std::string_view name) const;
};

// All throw Error(Errc::malformed) "<role>: field "<path>" <what is wrong>".
[[noreturn]] void field_error(const FieldPath& at, std::string_view problem);
const nlohmann::json& object_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name);
const nlohmann::json& array_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name);
std::string string_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name);
// An integer field in [min, 2^53).
std::int64_t integer_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name,
                        std::int64_t min);
bool bool_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name);
// A standard base64 string (with padding).
Bytes base64_at(const nlohmann::json& parent, const FieldPath& at, std::string_view name);
// A string value (not a field of an object), e.g. an array element.
std::string string_value(const nlohmann::json& value, const FieldPath& at);
// Refuses fields of `object` not in `allowed`.
void only_fields(const nlohmann::json& object, const FieldPath& at, std::initializer_list<std::string_view> allowed);

} // namespace trustkey::tuf
