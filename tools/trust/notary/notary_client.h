// Client for the notary-server v2 API of one repository (GUN): fetches TUF metadata
// exactly as served, fetches and rotates the server-managed keys, publishes metadata
// and deletes the repository.
//
// Bytes are never re-serialized: the server and other clients hash what was stored,
// so callers verify and keep the raw bodies returned here.
//
// Errors: a GET answered 404 is "absent" (nullopt). Any other non-2xx status throws
// trustkey::Error (call "notary server") whose message names the method, URL, HTTP status
// and the server's error code and message; code() is the HTTP status and code_name() the
// server's error code ("MALFORMED_JSON", "INVALID_UPDATE", …) when it sent one. A 5xx
// status says the server failed and that its signer or back end may be down. A transport
// failure throws Errc::io (call "notary transport", code() curl's) naming the server once:
// "cannot reach the trust server URL for FILE: reason".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "tools/trust/http/http_client.h"

namespace trustkey::notary {

// What the caller knows about fixing a failure, added to the error line (empty: nothing).
struct ServerHints {
    std::string tls;      // after a TLS failure: where the server's CA goes
    std::string failure;  // after any failure of the server (unreachable, TLS, an error status)
};

class NotaryClient {
public:
    // Largest body accepted for timestamp.json, and for any other file.
    static constexpr std::size_t kMaxTimestampSize = 1024 * 1024;
    static constexpr std::size_t kMaxMetadataSize = 100 * 1024 * 1024;

    // `base_url` is the server ("https://notary.example.com:4443", a trailing '/' is
    // ignored); `gun` the repository ("docker.io/library/app"). Throws
    // Errc::invalid_argument for a URL that is not http(s) or a GUN that cannot be a path.
    NotaryClient(std::string base_url, std::string gun, http::ClientOptions options = {}, ServerHints hints = {});

    const std::string& base_url() const noexcept { return m_base_url; }
    const std::string& gun() const noexcept { return m_gun; }
    const ServerHints& hints() const noexcept { return m_hints; }

    // GET /v2/<gun>/_trust/tuf/<role>.json. `role` is root, targets, snapshot,
    // timestamp or a delegation ("targets/releases").
    std::optional<std::string> get_role(const std::string& role);
    // GET …/<version>.<role>.json
    std::optional<std::string> get_role_version(const std::string& role, std::uint64_t version);
    // GET …/<role>.<sha256hex>.json; the hex may be upper or lower case (sent lower).
    std::optional<std::string> get_role_by_hash(const std::string& role, const std::string& sha256_hex);

    // GET …/<role>.key for "timestamp" or "snapshot": the server's public key as TUF key
    // JSON, raw (Go field order, not canonical). The server creates the key if needed.
    std::string get_key(const std::string& role);
    // POST …/<role>.key: a new pending server key, raw as get_key().
    std::string rotate_key(const std::string& role);

    // POST /v2/<gun>/_trust/tuf/ with one multipart part per role: form name "files",
    // file name = the role name. The server validates and stores them together.
    void publish(const std::map<std::string, std::string>& files);

    // DELETE /v2/<gun>/_trust/tuf/: removes all of the repository's metadata.
    void delete_repository();

    // URL of a file under the repository's TUF path, e.g. tuf_url("root.json").
    // `file` is used as is (its segments must already be safe).
    std::string tuf_url(const std::string& file) const;

    // Whether `role` is a role name the API accepts (base roles or targets/<name>…).
    static bool is_valid_role(const std::string& role);

private:
    std::string tuf_file(const std::string& url) const;
    std::optional<std::string> get_metadata(const std::string& role, const std::string& file);
    // Runs one HTTP exchange `send` for `url`, turning a transport failure into the error above.
    template <typename Send>
    http::Response exchange(const std::string& url, Send&& send);
    [[noreturn]] void fail(const std::string& method, const std::string& url, const http::Response& response) const;

    std::string m_base_url;
    std::string m_gun;
    std::string m_gun_path; // escaped, segment by segment
    http::Client m_http;
    ServerHints m_hints;
};

} // namespace trustkey::notary
