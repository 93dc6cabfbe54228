// Resolving an image reference to its manifest digest and size over the Docker
// Registry HTTP API v2: HEAD /v2/<repo>/manifests/<tag|digest> (GET and a sha256 of
// the body when the registry gives no Docker-Content-Digest), answering Basic and
// Bearer (token server) challenges with credentials from docker's config.json. HTTPS
// registries are trusted as docker trusts them: the system store plus the CAs and
// client certificate in <certs root>/<host[:port]>/ (CertsDirectory); the token
// server is reached with the same TLS settings as its registry, as docker does.
// Insecure registries are reached as docker reaches them: HTTPS without checking the
// certificate first, plain HTTP when that fails (then for the rest of the client's life).
// As in docker's default configuration, a registry whose host is or resolves to an address
// in 127.0.0.0/8 is insecure without being listed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "tools/trust/http/http_client.h"
#include "tools/trust/registry/certs_directory.h"
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
    // Base HTTP settings; for an HTTPS registry its certs directory adds CAs and a
    // client certificate (unless client_cert is set here).
    http::ClientOptions http{};
    // Roots of docker's per-registry TLS directories; CertsDirectory::default_roots()
    // (/etc/docker/certs.d, and the user's rootless one) when unset.
    std::optional<std::vector<std::filesystem::path>> certs_roots{};
    // Insecure registries ("host:port" as in references), as docker's insecure-registries;
    // all others are HTTPS with the certificate checked.
    std::vector<std::string> insecure_registries{};
    // Whether 127.0.0.0/8 is insecure too, as docker's default insecure-registries CIDR.
    bool loopback_insecure = true;
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
    // answer), Errc::config (docker config, credential helper or certs directory
    // problems).
    ManifestInfo resolve(const Reference& ref);

private:
    bool insecure(const Reference& ref) const;
    // "https://host:port", or "http://…" once an insecure registry fell back to HTTP.
    std::string base_url(const Reference& ref) const;
    // The HTTP client for ref's registry (and its token server), made on first use.
    http::Client& client_for(const Reference& ref);
    http::Response send_for(const Reference& ref, const http::Request& request);
    http::Response send_authorized(const Reference& ref, http::Request request);
    bool answer_challenge(const Reference& ref, const http::Response& response);
    std::optional<Credentials> credentials_for(const Reference& ref);
    ManifestInfo resolve_by_get(const Reference& ref, const std::string& url);

    RegistryClientOptions m_options;
    CertsDirectory m_certs;
    // One client per registry host (api_host()), each with that host's TLS settings.
    std::map<std::string, http::Client> m_clients;
    // Insecure registry hosts that did not answer HTTPS and are spoken to over HTTP.
    std::set<std::string> m_plain_http;
    // Authorization header value per registry host, once a challenge was answered.
    std::map<std::string, std::string> m_authorization;
};

} // namespace trustkey::registry
