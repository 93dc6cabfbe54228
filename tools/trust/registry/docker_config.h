// Registry credentials from docker's client configuration (config.json in
// $DOCKER_CONFIG, else ~/.docker): `auths.<server>.auth` (base64 "user:password"),
// `auths.<server>.identitytoken`, `credHelpers.<host>` and `credsStore` (helpers run
// as `docker-credential-<name> get`).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "tools/trust/registry/credentials.h"

namespace trustkey::registry {

class DockerConfig {
public:
    // The Docker Hub key docker writes into `auths` and passes to helpers.
    static constexpr const char* kDockerHubServerUrl = "https://index.docker.io/v1/";

    DockerConfig() = default;
    // $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json; an absent file gives
    // an empty configuration. Throws like load().
    static DockerConfig load_default();
    // Throws trustkey::Error (Errc::config) naming the file when it cannot be read or
    // is not valid JSON of the expected shape.
    static DockerConfig load(const std::filesystem::path& config_json);
    static DockerConfig parse(std::string_view json, const std::string& source);

    // Credentials for a registry as it appears in a reference ("docker.io",
    // "host:5000"): a credHelpers entry first, then credsStore, then auths. nullopt when
    // none is configured or the helper has none. Throws (Errc::config) when an auths
    // entry cannot be decoded or a helper fails.
    std::optional<Credentials> credentials_for(const std::string& registry) const;

    // "docker.io" for every Docker Hub spelling; otherwise the host[:port] with
    // any scheme and path removed, lower-cased.
    static std::string normalise_server(std::string_view server);

private:
    struct AuthEntry {
        std::string auth;            // base64 of "user:password"
        std::string identity_token;  // "identitytoken"
        std::string username;        // separate "username"/"password" fields (older files)
        std::string password;
    };
    std::string m_source;
    std::map<std::string, AuthEntry> m_auths;  // by normalise_server()
    std::map<std::string, std::string> m_helpers;
    std::string m_store;
};

} // namespace trustkey::registry
