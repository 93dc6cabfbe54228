// Resolving an image reference to its manifest digest and size over the Docker
// Registry HTTP API v2: HEAD /v2/<repo>/manifests/<tag|digest> (GET and a sha256 of
// the body when the registry gives no Docker-Content-Digest), answering Basic and
// Bearer (token server) challenges with credentials from docker's config.json.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "tools/trust/http/http_client.h"
#include "tools/trust/registry/credentials.h"
#include "tools/trust/registry/docker_config.h"
#include "tools/trust/registry/reference.h"

namespace trustkey::registry {

struct ManifestInfo {
    std::string digest;      // "sha256:<hex>"
    std::uint64_t size = 0;  // bytes of the manifest
    std::string media_type;  // Content-Type the registry answered (may be empty)
};

struct RegistryClientOptions {
    http::ClientOptions http{};
    // Speak plain HTTP to these registries ("host:port" as in references), as docker's
    // insecure-registries; all others are HTTPS.
    std::vector<std::string> plain_http_registries{};
    // Used instead of docker's config.json when set.
    std::optional<Credentials> credentials{};
    // Where credentials come from when `credentials` is unset; DockerConfig::load_default()
    // when this is unset too.
    std::optional<DockerConfig> docker_config{};
};

class RegistryClient {
public:
    // Media types sent in Accept: docker schema 2 manifest and list, OCI manifest and index.
    static const char* const kAcceptedMediaTypes;

    explicit RegistryClient(RegistryClientOptions options = {});

    // The manifest digest and size of `ref`. Throws trustkey::Error naming the
    // reference: Errc::not_found (unknown repository or tag), Errc::denied (401/403:
    // missing or rejected credentials), Errc::io (transport failures, other statuses),
    // Errc::malformed (a digest that does not match the manifest bytes, a bad token
    // answer), Errc::config (docker config or credential helper problems).
    ManifestInfo resolve(const Reference& ref);

private:
    std::string base_url(const Reference& ref) const;
    http::Response send_authorized(const Reference& ref, http::Request request);
    bool answer_challenge(const Reference& ref, const http::Response& response);
    std::optional<Credentials> credentials_for(const Reference& ref);
    ManifestInfo resolve_by_get(const Reference& ref, const std::string& url);

    RegistryClientOptions m_options;
    http::Client m_http;
    // Authorization header value per registry host, once a challenge was answered.
    std::map<std::string, std::string> m_authorization;
};

} // namespace trustkey::registry
