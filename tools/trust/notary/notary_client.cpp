#include "tools/trust/notary/notary_client.h"

#include <cctype>
#include <string_view>
#include <vector>

#include "lib/core/error.h"
#include "tools/trust/notary/server_error.h"

namespace trustkey::notary {

namespace {

constexpr const char* kHexDigits = "0123456789ABCDEF";

bool is_unreserved(unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Percent-escapes one path segment. ':' and '@' are allowed in a segment and kept
// (a GUN "127.0.0.1:5000/library/app" stays readable).
std::string escape_segment(std::string_view segment) {
    std::string out;
    for (unsigned char c : segment) {
        if (is_unreserved(c) || c == ':' || c == '@') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHexDigits[c >> 4];
            out += kHexDigits[c & 0x0f];
        }
    }
    return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const auto pos = s.find(sep, start);
        parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos) return parts;
        start = pos + 1;
    }
}

// A segment that survives a URL path unchanged in meaning: not empty, not a dot
// segment, no control characters or spaces.
bool is_plain_segment(std::string_view seg) {
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (unsigned char c : seg)
        if (c <= 0x20 || c == 0x7f) return false;
    return true;
}

std::string lower_hex(const std::string& hex) {
    std::string out;
    for (unsigned char c : hex) {
        if (!std::isxdigit(c)) return {};
        out += static_cast<char>(std::tolower(c));
    }
    return out;
}

Errc errc_for_status(long status) {
    switch (status) {
    case 400: return Errc::invalid_argument;
    case 401:
    case 403: return Errc::denied;
    case 404: return Errc::not_found;
    default: return Errc::io;
    }
}

void check_server_key_role(const std::string& role, const std::string& gun) {
    if (role != "timestamp" && role != "snapshot")
        throw Error(Errc::invalid_argument,
                    "the server manages only the timestamp and snapshot keys, not \"" + role + "\"", 0,
                    "notary key", gun);
}

std::string escaped_role(const std::string& role) {
    std::string out;
    for (std::string_view seg : split(role, '/')) {
        if (!out.empty()) out += '/';
        out += escape_segment(seg);
    }
    return out;
}

} // namespace

NotaryClient::NotaryClient(std::string base_url, std::string gun, http::ClientOptions options, ServerHints hints)
    : m_base_url(std::move(base_url)), m_gun(std::move(gun)), m_http(std::move(options)), m_hints(std::move(hints)) {
    while (!m_base_url.empty() && m_base_url.back() == '/') m_base_url.pop_back();
    if (!m_base_url.starts_with("https://") && !m_base_url.starts_with("http://"))
        throw Error(Errc::invalid_argument, "notary server URL must start with https:// or http://: " + m_base_url, 0,
                    "notary client", m_base_url);
    if (m_base_url.find_first_of("?#") != std::string::npos)
        throw Error(Errc::invalid_argument, "notary server URL must not have a query or fragment: " + m_base_url, 0,
                    "notary client", m_base_url);
    if (m_gun.empty() || m_gun.size() > 255)
        throw Error(Errc::invalid_argument, "repository name (GUN) must be 1 to 255 characters", 0, "notary client",
                    m_gun);
    for (std::string_view seg : split(m_gun, '/')) {
        if (!is_plain_segment(seg) || seg.find('*') != std::string_view::npos)
            throw Error(Errc::invalid_argument, "bad repository name (GUN) \"" + m_gun + "\"", 0, "notary client", m_gun);
        if (!m_gun_path.empty()) m_gun_path += '/';
        m_gun_path += escape_segment(seg);
    }
}

bool NotaryClient::is_valid_role(const std::string& role) {
    if (role == "root" || role == "targets" || role == "snapshot" || role == "timestamp") return true;
    if (!role.starts_with("targets/")) return false;
    const auto segs = split(std::string_view(role).substr(8), '/');
    for (std::string_view seg : segs)
        if (!is_plain_segment(seg)) return false;
    return true;
}

std::string NotaryClient::tuf_url(const std::string& file) const {
    return m_base_url + "/v2/" + m_gun_path + "/_trust/tuf/" + file;
}

// The part of `url` after the repository's TUF path ("root.json"), or the URL itself.
std::string NotaryClient::tuf_file(const std::string& url) const {
    const std::string base = tuf_url("");
    if (!url.starts_with(base)) return url;
    return url.size() == base.size() ? std::string("the repository's metadata") : url.substr(base.size());
}

template <typename Send>
http::Response NotaryClient::exchange(const std::string& url, Send&& send) {
    try {
        return send();
    } catch (const Error& e) {
        if (e.errc() != Errc::io) throw;
        std::string message =
            "cannot reach the trust server " + m_base_url + " for " + tuf_file(url) + ": " + http::failure_reason(e);
        if (http::is_tls_failure(e.code()) && !m_hints.tls.empty()) message += " (" + m_hints.tls + ")";
        if (!m_hints.failure.empty()) message += " (" + m_hints.failure + ")";
        throw Error(Errc::io, message, e.code(), "notary transport", m_gun);
    }
}

void NotaryClient::fail(const std::string& method, const std::string& url, const http::Response& response) const {
    std::string message;
    if (response.status >= 500 && response.status <= 599) {
        // The server's own answer ("UNKNOWN: unknown error") says little; notary-server
        // answers so when notary-signer or its database is down.
        message = "notary server " + m_base_url + " failed with server error " + std::to_string(response.status);
        if (const auto server = parse_server_error(response.body)) {
            std::string said = server->code + (server->message.empty() ? "" : ": " + server->message);
            for (char& c : said)
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
            message += " (" + said + ")";
        }
        message += " on " + method + " " + tuf_file(url) + ": its signer or storage back end may be down";
    } else {
        message = describe_failure(method + " " + url, response.status, response.body);
    }
    if (!m_hints.failure.empty()) message += " (" + m_hints.failure + ")";
    Error e(errc_for_status(response.status), message, static_cast<std::uint64_t>(response.status), "notary server",
            m_gun);
    if (const auto server = parse_server_error(response.body)) e.set_code_name(server->code);
    throw e;
}

std::optional<std::string> NotaryClient::get_metadata(const std::string& role, const std::string& file) {
    if (!is_valid_role(role))
        throw Error(Errc::invalid_argument, "bad TUF role name \"" + role + "\"", 0, "notary get", m_gun);
    http::Request request;
    request.url = tuf_url(file);
    request.max_response = role == "timestamp" ? kMaxTimestampSize : kMaxMetadataSize;
    http::Response response = exchange(request.url, [&] { return m_http.send(request); });
    if (response.status == 404) return std::nullopt;
    if (response.status != 200) fail("GET", request.url, response);
    return std::move(response.body);
}

std::optional<std::string> NotaryClient::get_role(const std::string& role) {
    return get_metadata(role, escaped_role(role) + ".json");
}

std::optional<std::string> NotaryClient::get_role_version(const std::string& role, std::uint64_t version) {
    return get_metadata(role, std::to_string(version) + "." + escaped_role(role) + ".json");
}

std::optional<std::string> NotaryClient::get_role_by_hash(const std::string& role, const std::string& sha256_hex) {
    const std::string hex = lower_hex(sha256_hex);
    if (hex.size() != 64)
        throw Error(Errc::invalid_argument, "a SHA-256 checksum is 64 hex digits, got \"" + sha256_hex + "\"", 0,
                    "notary get", m_gun);
    return get_metadata(role, escaped_role(role) + "." + hex + ".json");
}

std::string NotaryClient::get_key(const std::string& role) {
    check_server_key_role(role, m_gun);
    http::Request request;
    request.url = tuf_url(role + ".key");
    request.max_response = kMaxTimestampSize;
    http::Response response = exchange(request.url, [&] { return m_http.send(request); });
    if (response.status != 200) fail("GET", request.url, response);
    return std::move(response.body);
}

std::string NotaryClient::rotate_key(const std::string& role) {
    check_server_key_role(role, m_gun);
    http::Request request;
    request.method = "POST";
    request.url = tuf_url(role + ".key");
    request.max_response = kMaxTimestampSize;
    http::Response response = exchange(request.url, [&] { return m_http.send(request); });
    if (response.status != 200) fail("POST", request.url, response);
    return std::move(response.body);
}

void NotaryClient::publish(const std::map<std::string, std::string>& files) {
    const std::string url = tuf_url("");
    if (files.empty())
        throw Error(Errc::invalid_argument, "nothing to publish to " + url, 0, "notary publish", m_gun);
    std::vector<http::FormPart> parts;
    for (const auto& [role, bytes] : files) {
        if (!is_valid_role(role))
            throw Error(Errc::invalid_argument, "bad TUF role name \"" + role + "\" to publish", 0, "notary publish",
                        m_gun);
        parts.push_back({"files", role, bytes, "application/octet-stream"});
    }
    const http::Response response = exchange(url, [&] { return m_http.post_form(url, parts); });
    if (response.status / 100 != 2) fail("POST", url, response);
}

void NotaryClient::delete_repository() {
    http::Request request;
    request.method = "DELETE";
    request.url = tuf_url("");
    const http::Response response = exchange(request.url, [&] { return m_http.send(request); });
    if (response.status / 100 != 2) fail("DELETE", request.url, response);
}

} // namespace trustkey::notary
