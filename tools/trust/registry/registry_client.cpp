#include "tools/trust/registry/registry_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/registry/auth_challenge.h"

namespace trustkey::registry {

const char* const RegistryClient::kAcceptedMediaTypes =
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json";

namespace {

constexpr std::size_t kMaxManifest = 4 * 1024 * 1024;
constexpr std::size_t kMaxTokenAnswer = 1024 * 1024;
constexpr const char* kClientId = "trustkey";

std::string percent_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

std::string basic_authorization(const Credentials& creds) {
    SecureBytes plain = secure_from(creds.username + ":");
    plain.insert(plain.end(), creds.password.begin(), creds.password.end());
    return "Basic " + to_base64(std::span<const std::uint8_t>(plain.data(), plain.size()));
}

std::optional<std::uint64_t> parse_size(const std::string& s) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// The first "message" (or "code") of a registry error body {"errors":[{code,message}]}.
std::string registry_message(const std::string& body) {
    const auto json = nlohmann::json::parse(body, nullptr, false);
    if (!json.is_object() || !json.contains("errors") || !json["errors"].is_array() || json["errors"].empty())
        return {};
    const auto& e = json["errors"][0];
    if (!e.is_object()) return {};
    std::string out;
    if (e.contains("code") && e["code"].is_string()) out = e["code"].get<std::string>();
    if (e.contains("message") && e["message"].is_string())
        out += (out.empty() ? "" : ": ") + e["message"].get<std::string>();
    return out;
}

std::string sha256_digest(std::string_view body) { return "sha256:" + to_hex(sha256(as_bytes(body))); }

std::string cache_key(const Reference& ref) { return ref.api_host() + "/" + ref.repository; }

// The host of "host[:port]" or "[v6]:port", without brackets.
std::string host_part(const std::string& registry) {
    if (registry.starts_with('[')) {
        const auto close = registry.find(']');
        return registry.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    }
    return registry.substr(0, registry.find(':'));
}

bool in_loopback_net(const in_addr& a) { return (ntohl(a.s_addr) >> 24) == 127; }

// Whether `host` is, or resolves to, an address in 127.0.0.0/8 (docker's isCIDRMatch:
// any of the host's addresses counts).
bool is_loopback_host(const std::string& host) {
    in_addr literal{};
    if (::inet_pton(AF_INET, host.c_str(), &literal) == 1) return in_loopback_net(literal);
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return false;
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next)
        if (a->ai_family == AF_INET && in_loopback_net(reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr))
            return true;
    return false;
}

// OpenSSL's words for a TLS handshake answered by something that does not speak TLS,
// such as a plain-HTTP server.
bool answered_without_tls(const std::string& reason) {
    return reason.find("wrong version number") != std::string::npos ||
           reason.find("packet length too long") != std::string::npos ||
           reason.find("http request") != std::string::npos;
}

} // namespace

RegistryClient::RegistryClient(RegistryClientOptions options)
    : m_options(std::move(options)),
      m_certs(m_options.certs_roots ? *m_options.certs_roots : CertsDirectory::default_roots()) {}

bool RegistryClient::insecure(const Reference& ref) const {
    const auto& listed = m_options.insecure_registries;
    if (std::find(listed.begin(), listed.end(), ref.registry) != listed.end()) return true;
    return m_options.loopback_insecure && is_loopback_host(host_part(ref.api_host()));
}

std::string RegistryClient::base_url(const Reference& ref) const {
    return std::string(m_plain_http.contains(ref.api_host()) ? "http://" : "https://") + ref.api_host();
}

http::Client& RegistryClient::client_for(const Reference& ref) {
    const std::string host = ref.api_host();
    if (const auto it = m_clients.find(host); it != m_clients.end()) return it->second;
    http::ClientOptions options = m_options.http;
    if (insecure(ref)) {
        // As docker: an insecure registry's certificate is not checked.
        options.verify_peer = false;
    } else {
        // As docker: certs.d applies to registries it reaches over TLS.
        RegistryTls tls;
        try {
            tls = m_certs.for_host(host);
        } catch (const Error& e) {
            throw Error(e.errc(), "TLS settings for registry " + host + ": " + e.message(), e.code(), e.call(),
                        e.subject());
        }
        options.extra_ca_files.insert(options.extra_ca_files.end(), tls.ca_files.begin(), tls.ca_files.end());
        if (tls.client_cert && !options.client_cert) {
            options.client_cert = tls.client_cert;
            options.client_key = tls.client_key;
        }
    }
    return m_clients.emplace(host, http::Client(std::move(options))).first->second;
}

// Sends `request`; an insecure registry that fails over HTTPS is asked again over HTTP,
// as docker falls back. A transport failure is rethrown naming the registry and the
// reference; a TLS failure says where docker (and trustkey) look for the registry's CA,
// or, when the registry does not speak TLS at all, that it must be listed as insecure.
http::Response RegistryClient::send_for(const Reference& ref, const http::Request& request) {
    const std::string host = ref.api_host();
    const std::string https = "https://" + host;
    if (m_plain_http.contains(host) && request.url.starts_with(https)) {
        http::Request plain = request;
        plain.url = "http://" + host + request.url.substr(https.size());
        return send_for(ref, plain);
    }
    http::Client& client = client_for(ref);
    try {
        return client.send(request);
    } catch (const Error& e) {
        if (e.errc() != Errc::io) throw;
        if (insecure(ref) && request.url.starts_with(https)) {
            m_plain_http.insert(host);
            http::Request plain = request;
            plain.url = "http://" + host + request.url.substr(https.size());
            return send_for(ref, plain);
        }
        const std::string reason = e.message();  // "HEAD URL: what failed"
        if (http::is_tls_failure(e.code()) && answered_without_tls(reason))
            throw Error(Errc::io,
                        "registry " + host + " does not answer in TLS for " + ref.str() + " (" + reason +
                            "); a plain-HTTP registry needs --insecure-registry " + ref.registry,
                        e.code(), {}, ref.str());
        if (http::is_tls_failure(e.code()))
            throw Error(Errc::io,
                        "TLS failure with registry " + host + " for " + ref.str() + ": " + reason +
                            " (a registry CA goes in " + m_certs.ca_hint(host).string() + ")",
                        e.code(), {}, ref.str());
        throw Error(Errc::io, "cannot reach registry " + host + " for " + ref.str() + ": " + reason, e.code(), {},
                    ref.str());
    }
}

std::optional<Credentials> RegistryClient::credentials_for(const Reference& ref) {
    if (m_options.credentials) return m_options.credentials;
    if (!m_options.docker_config) m_options.docker_config = DockerConfig::load_default();
    return m_options.docker_config->credentials_for(ref.registry);
}

bool RegistryClient::answer_challenge(const Reference& ref, const http::Response& response) {
    const auto header = response.header("www-authenticate");
    if (!header) return false;
    const auto challenges = AuthChallenge::parse(*header);
    const auto bearer = std::find_if(challenges.begin(), challenges.end(),
                                     [](const AuthChallenge& c) { return c.scheme == "bearer"; });
    const auto basic = std::find_if(challenges.begin(), challenges.end(),
                                    [](const AuthChallenge& c) { return c.scheme == "basic"; });
    const std::optional<Credentials> creds = credentials_for(ref);

    if (bearer == challenges.end()) {
        if (basic == challenges.end() || !creds || creds->username.empty()) return false;
        m_authorization[cache_key(ref)] = basic_authorization(*creds);
        return true;
    }

    const auto realm = bearer->param("realm");
    if (!realm || realm->empty())
        throw Error(Errc::malformed, "registry " + ref.api_host() + " asked for a bearer token without a realm", 0,
                    "resolve", ref.str());
    const std::string service = bearer->param("service").value_or("");
    const std::string scope = bearer->param("scope").value_or("repository:" + ref.repository + ":pull");

    http::Request token_request;
    token_request.max_response = kMaxTokenAnswer;
    if (creds && !creds->identity_token.empty()) {
        // OAuth2 refresh token grant, as docker does with a stored identity token.
        token_request.method = "POST";
        token_request.url = *realm;
        token_request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
        token_request.body = "grant_type=refresh_token&client_id=" + std::string(kClientId) +
                             "&service=" + percent_encode(service) + "&scope=" + percent_encode(scope) +
                             "&refresh_token=" + percent_encode(as_string_view(creds->identity_token));
    } else {
        token_request.url = *realm + (realm->find('?') == std::string::npos ? "?" : "&") +
                            "service=" + percent_encode(service) + "&scope=" + percent_encode(scope);
        if (creds && !creds->username.empty())
            token_request.headers.emplace_back("Authorization", basic_authorization(*creds));
    }
    http::Response answer = send_for(ref, token_request);
    wipe(token_request.body);
    for (auto& [name, value] : token_request.headers) wipe(value);
    if (answer.status == 401 || answer.status == 403)
        throw Error(Errc::denied,
                    "token server " + *realm + " refused " +
                        (creds ? "the credentials for " + ref.registry : std::string("anonymous access")) + " (" +
                        std::to_string(answer.status) + ") for " + ref.str(),
                    static_cast<std::uint64_t>(answer.status), "resolve", ref.str());
    if (answer.status != 200)
        throw Error(Errc::io, "token server " + *realm + " answered HTTP " + std::to_string(answer.status) + " for " +
                                  ref.str(),
                    static_cast<std::uint64_t>(answer.status), "resolve", ref.str());
    const auto json = nlohmann::json::parse(answer.body, nullptr, false);
    wipe(answer.body);
    std::string token;
    for (const char* field : {"token", "access_token"})
        if (json.is_object() && json.contains(field) && json[field].is_string() && token.empty())
            token = json[field].get<std::string>();
    if (token.empty())
        throw Error(Errc::malformed, "token server " + *realm + " answered no token for " + ref.str(), 0, "resolve",
                    ref.str());
    m_authorization[cache_key(ref)] = "Bearer " + token;
    wipe(token);
    return true;
}

http::Response RegistryClient::send_authorized(const Reference& ref, http::Request request) {
    const std::string key = cache_key(ref);
    const auto with_auth = [&](http::Request r) {
        if (const auto it = m_authorization.find(key); it != m_authorization.end())
            r.headers.emplace_back("Authorization", it->second);
        return r;
    };
    http::Response response = send_for(ref, with_auth(request));
    if (response.status != 401) return response;
    const auto before = m_authorization.find(key);
    const std::string old = before == m_authorization.end() ? std::string() : before->second;
    if (!answer_challenge(ref, response) || m_authorization[key] == old) return response;
    return send_for(ref, with_auth(std::move(request)));
}

namespace {

[[noreturn]] void status_error(const Reference& ref, const std::string& method, const http::Response& r,
                               bool had_credentials) {
    const std::string detail = registry_message(r.body);
    const std::string suffix = detail.empty() ? std::string() : " (" + detail + ")";
    const auto code = static_cast<std::uint64_t>(r.status);
    if (r.status == 404)
        throw Error(Errc::not_found,
                    "manifest " + ref.str() + " not found: unknown repository or tag on " + ref.api_host() + suffix,
                    code, method, ref.str());
    if (r.status == 401)
        throw Error(Errc::denied,
                    std::string(had_credentials ? "registry " + ref.api_host() + " rejected the credentials"
                                                : "registry " + ref.api_host() +
                                                      " requires authentication and no credentials are configured") +
                        " for " + ref.str() + " (HTTP 401)" + suffix,
                    code, method, ref.str());
    if (r.status == 403)
        throw Error(Errc::denied, "access to " + ref.str() + " is denied by " + ref.api_host() + " (HTTP 403)" + suffix,
                    code, method, ref.str());
    throw Error(Errc::io,
                "registry " + ref.api_host() + " answered HTTP " + std::to_string(r.status) + " to " + method +
                    " of manifest " + ref.str() + suffix,
                code, method, ref.str());
}

} // namespace

ManifestInfo RegistryClient::resolve_by_get(const Reference& ref, const std::string& url) {
    http::Request get;
    get.url = url;
    get.headers.emplace_back("Accept", kAcceptedMediaTypes);
    get.max_response = kMaxManifest;
    const http::Response r = send_authorized(ref, get);
    if (r.status != 200) status_error(ref, "GET", r, m_authorization.count(cache_key(ref)) != 0);
    ManifestInfo info;
    info.digest = sha256_digest(r.body);
    info.size = r.body.size();
    info.media_type = r.header("content-type").value_or("");
    if (const auto given = r.header("docker-content-digest"); given && *given != info.digest &&
                                                              given->rfind("sha256:", 0) == 0)
        throw Error(Errc::malformed,
                    "registry " + ref.api_host() + " gave digest " + *given + " for " + ref.str() +
                        " but the manifest bytes hash to " + info.digest,
                    0, "GET", ref.str());
    return info;
}

ManifestInfo RegistryClient::resolve(const Reference& ref) {
    const std::string url = base_url(ref) + "/v2/" + ref.repository + "/manifests/" + ref.manifest_ref();
    http::Request head;
    head.method = "HEAD";
    head.url = url;
    head.headers.emplace_back("Accept", kAcceptedMediaTypes);
    const http::Response r = send_authorized(ref, head);

    ManifestInfo info;
    if (r.status == 200) {
        const auto digest = r.header("docker-content-digest");
        const auto length = r.header("content-length");
        const auto size = length ? parse_size(*length) : std::nullopt;
        if (digest && size && digest->rfind("sha256:", 0) == 0) {
            info.digest = *digest;
            info.size = *size;
            info.media_type = r.header("content-type").value_or("");
        } else {
            info = resolve_by_get(ref, url);
        }
    } else if (r.status == 405 || r.status == 501) {
        // Registries that do not implement HEAD on manifests.
        info = resolve_by_get(ref, url);
    } else {
        status_error(ref, "HEAD", r, m_authorization.count(cache_key(ref)) != 0);
    }
    if (!ref.digest.empty() && info.digest != ref.digest)
        throw Error(Errc::malformed,
                    "registry " + ref.api_host() + " answered digest " + info.digest + " for " + ref.str(), 0,
                    "resolve", ref.str());
    return info;
}

} // namespace trustkey::registry
