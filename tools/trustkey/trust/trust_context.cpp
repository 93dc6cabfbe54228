#include "tools/trustkey/trust/trust_context.h"

#include <cstdlib>

#include <fmt/format.h>

#include "lib/core/error.h"
#include "tools/trustkey/failure.h"

namespace trustkey::tools::trust {

namespace {

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
}

// "host[:port]" of an http(s) URL.
std::string url_host(const std::string& url) {
    const auto scheme = url.find("://");
    const auto start = scheme == std::string::npos ? 0 : scheme + 3;
    const auto end = url.find('/', start);
    return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

} // namespace

RepositoryTarget parse_repository(const std::string& text) {
    RepositoryTarget target;
    try {
        target.reference = registry::Reference::parse(text);
    } catch (const Error& e) {
        throw Failure::usage(e.user_message());
    } catch (const std::exception& e) {
        throw Failure::usage(e.what());
    }
    if (!target.reference.digest.empty())
        throw Failure::usage(fmt::format("\"{}\": give a tag, not a digest", text));
    // Reference::parse fills in "latest"; only a tag the user wrote counts.
    const auto slash = text.rfind('/');
    target.tag_given = text.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos;
    target.gun = target.reference.registry + "/" + target.reference.repository;
    return target;
}

std::string error_text(const Error& e, const std::string& context) {
    if (!e.subject().empty() && context.find(e.subject()) != std::string::npos) return e.message();
    return e.user_message();
}

std::filesystem::path docker_config_dir() {
    if (auto dir = env("DOCKER_CONFIG"); !dir.empty()) return dir;
    if (auto home = env("HOME"); !home.empty()) return std::filesystem::path(home) / ".docker";
    throw Failure::failed("neither DOCKER_CONFIG nor HOME is set: cannot find docker's configuration");
}

std::filesystem::path trust_dir(const TrustOptions& options) {
    if (!options.trust_dir.empty()) return options.trust_dir;
    return docker_config_dir() / "trust";
}

std::string server_url(const TrustOptions& options, const registry::Reference& ref) {
    if (!options.server.empty()) return options.server;
    if (auto url = env("DOCKER_CONTENT_TRUST_SERVER"); !url.empty()) return url;
    if (ref.registry == registry::Reference::kDockerHub) return "https://notary.docker.io";
    return "https://" + ref.registry;
}

std::optional<std::filesystem::path> server_ca(const TrustOptions& options, const std::string& url) {
    if (!options.tls_ca_cert.empty()) return std::filesystem::path(options.tls_ca_cert);
    const char* config = std::getenv("DOCKER_CONFIG");
    const char* home = std::getenv("HOME");
    if (config == nullptr && home == nullptr) return std::nullopt;
    const auto path = docker_config_dir() / "tls" / url_host(url) / "ca.crt";
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return path;
    return std::nullopt;
}

std::string default_server_hint(const TrustOptions& options, const registry::Reference& ref) {
    if (!options.server.empty() || !env("DOCKER_CONTENT_TRUST_SERVER").empty() ||
        ref.registry == registry::Reference::kDockerHub)
        return {};
    return "no notary server was named, so the registry itself was asked: give the notary server with --server or "
           "DOCKER_CONTENT_TRUST_SERVER";
}

std::string server_ca_hint(const std::string& url) {
    std::string place = "$DOCKER_CONFIG/tls/" + url_host(url) + "/ca.crt";
    if (std::getenv("DOCKER_CONFIG") != nullptr || std::getenv("HOME") != nullptr)
        place = (docker_config_dir() / "tls" / url_host(url) / "ca.crt").string();
    return fmt::format("the notary server's CA certificate goes in --tlscacert or {}", place);
}

notary::NotaryClient notary_client(const TrustOptions& options, const RepositoryTarget& target) {
    const std::string url = server_url(options, target.reference);
    http::ClientOptions http;
    http.ca_file = server_ca(options, url);
    notary::ServerHints hints{server_ca_hint(url), default_server_hint(options, target.reference)};
    try {
        return notary::NotaryClient(url, target.gun, http, std::move(hints));
    } catch (const std::exception& e) {
        const auto* error = dynamic_cast<const Error*>(&e);
        throw Failure::usage(fmt::format("notary server {}: {}", url, error ? error->user_message() : e.what()));
    }
}

registry::RegistryClient registry_client(const TrustOptions& options) {
    registry::RegistryClientOptions o;
    o.insecure_registries = options.insecure_registries;
    // HTTPS registries: the system CAs plus docker's certs.d directories.
    o.certs_roots = registry::CertsDirectory::default_roots();
    return registry::RegistryClient(std::move(o));
}

} // namespace trustkey::tools::trust
