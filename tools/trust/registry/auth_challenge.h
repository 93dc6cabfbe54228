// Parsing an HTTP `WWW-Authenticate` header (RFC 7235) as registries send it:
//   Basic realm="Registry Realm"
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trustkey::registry {

struct AuthChallenge {
    std::string scheme;                         // lower-cased: "basic", "bearer"
    std::map<std::string, std::string> params;  // names lower-cased, values unquoted

    std::optional<std::string> param(const std::string& lower_name) const;

    // All challenges in one header value, in order. Malformed trailing parts are
    // dropped; an empty or unparsable header gives an empty list.
    static std::vector<AuthChallenge> parse(std::string_view header);
};

} // namespace trustkey::registry
