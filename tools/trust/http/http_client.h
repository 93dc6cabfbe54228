// A small HTTPS/HTTP client over libcurl for the notary server and registry APIs:
// one request at a time per client, bounded sizes and times, TLS verified against a
// given CA file (or the system store), optionally with more CAs on top (docker's
// /etc/docker/certs.d/<host>/*.crt) and a client certificate.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace trustkey {
class Error;
}

namespace trustkey::http {

struct Request {
    std::string method = "GET";                    // GET, HEAD, POST, PUT, DELETE
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;  // name, value
    std::string body;                              // sent as is (POST/PUT)
    std::size_t max_response = 100 * 1024 * 1024;  // larger bodies fail with a clear error
};

// One part of a multipart/form-data body.
struct FormPart {
    std::string name;       // form field name ("files")
    std::string filename;   // sent as the part's filename (notary: the role name, slash kept)
    std::string content;
    std::string content_type = "application/octet-stream";
};

struct Response {
    long status = 0;
    // Header names lower-cased; repeated headers keep the last value.
    std::map<std::string, std::string> headers;
    std::string body;
    std::optional<std::string> header(const std::string& lower_name) const;
};

struct ClientOptions {
    std::optional<std::filesystem::path> ca_file;      // trust only this CA bundle
    // PEM CA files trusted in addition to ca_file or, without it, the system store.
    std::vector<std::filesystem::path> extra_ca_files;
    std::optional<std::filesystem::path> client_cert;  // mutual TLS, PEM
    std::optional<std::filesystem::path> client_key;
    // Whether the server's certificate and name are checked (off only for docker's
    // insecure registries).
    bool verify_peer = true;
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds timeout{std::chrono::seconds(60)};
    std::string user_agent = "trustkey";
};

// True when `code` (Error::code() of a transport failure from Client) is a TLS
// failure: the handshake, the peer's certificate, or the local CA/client certificate.
bool is_tls_failure(std::uint64_t code) noexcept;

// The reason of a transport failure Client threw, without its "METHOD URL: " prefix, so
// a caller naming the server itself does not print the URL twice.
std::string failure_reason(const Error& e);

class Client {
public:
    explicit Client(ClientOptions options = {});
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    ~Client();

    // Throws trustkey::Error (Errc::config) naming the file when ca_file or an extra CA
    // file cannot be read.
    // Performs the request. Transport failures (DNS, connect, TLS, timeout, size cap)
    // throw trustkey::Error (Errc::io) naming the URL and curl's reason; any HTTP
    // status is returned, not thrown.
    Response send(const Request& request);
    // POST of a multipart/form-data body.
    Response post_form(const std::string& url, const std::vector<FormPart>& parts,
                       const std::vector<std::pair<std::string, std::string>>& headers = {});

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace trustkey::http
