#include "tools/trust/notary/server_error.h"

#include <nlohmann/json.hpp>

namespace trustkey::notary {

namespace {

constexpr std::size_t kExcerptMax = 200;

std::string string_field(const nlohmann::json& obj, const char* name) {
    if (!obj.is_object()) return {};
    const auto it = obj.find(name);
    if (it == obj.end() || !it->is_string()) return {};
    return it->get<std::string>();
}

// Control characters (line breaks included) become spaces so the text stays one line.
std::string one_line(std::string_view text, std::size_t max) {
    std::string out;
    for (char c : text.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    if (text.size() > max) out += "...";
    return out;
}

} // namespace

std::optional<ServerError> parse_server_error(std::string_view body) {
    const auto doc = nlohmann::json::parse(body, nullptr, false);
    if (!doc.is_object()) return std::nullopt;
    const auto errors = doc.find("errors");
    if (errors == doc.end() || !errors->is_array() || errors->empty() || !(*errors)[0].is_object())
        return std::nullopt;
    const auto& first = (*errors)[0];
    ServerError e;
    e.code = string_field(first, "code");
    e.message = string_field(first, "message");
    if (e.code.empty()) return std::nullopt;
    if (const auto detail = first.find("detail"); detail != first.end() && !detail->is_null()) {
        if (detail->is_object()) {
            e.detail_name = string_field(*detail, "Name");
            if (const auto err = detail->find("Error"); err != detail->end())
                e.detail_message = err->is_string() ? err->get<std::string>() : string_field(*err, "Msg");
        }
        const bool empty = ((detail->is_object() || detail->is_array()) && detail->empty()) ||
                           (detail->is_string() && detail->get_ref<const std::string&>().empty());
        if (e.detail_name.empty() && e.detail_message.empty() && !empty)
            e.detail = detail->is_string() ? detail->get<std::string>()
                                           : detail->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return e;
}

std::string describe_failure(const std::string& what, long status, std::string_view body) {
    std::string out = what + ": HTTP " + std::to_string(status);
    if (const auto e = parse_server_error(body)) {
        out += ": " + e->code;
        if (!e->message.empty()) out += ": " + e->message;
        if (!e->detail_name.empty() || !e->detail_message.empty()) {
            out += " (" + e->detail_name;
            if (!e->detail_name.empty() && !e->detail_message.empty()) out += ": ";
            out += e->detail_message + ")";
        } else if (!e->detail.empty()) {
            out += " (" + e->detail + ")";
        }
        return one_line(out, out.size());
    }
    if (!body.empty()) out += ": " + one_line(body, kExcerptMax);
    return one_line(out, out.size());
}

} // namespace trustkey::notary
