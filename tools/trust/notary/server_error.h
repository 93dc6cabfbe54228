// The error body notary-server answers with, `{"errors":[{"code","message","detail"}]}`,
// and the one-line description trustkey shows for a refused request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace trustkey::notary {

struct ServerError {
    std::string code;         // "MALFORMED_JSON", "INVALID_UPDATE", "VERSION" …
    std::string message;      // the server's text for that code
    // For INVALID_UPDATE: detail.Name ("ErrBadRoot" …) and detail.Error.Msg.
    std::string detail_name;
    std::string detail_message;
    // Any other detail, as compact JSON (empty when there is none).
    std::string detail;
};

// The first entry of the body's "errors" array; nullopt when the body is not that shape.
std::optional<ServerError> parse_server_error(std::string_view body);

// "<what>: HTTP <status>: CODE: message (Name: Msg)" on one line; when the body is not
// a notary error, a short, single-line excerpt of it.
std::string describe_failure(const std::string& what, long status, std::string_view body);

} // namespace trustkey::notary
