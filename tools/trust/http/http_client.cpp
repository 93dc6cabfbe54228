#include "tools/trust/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string_view>
#include <utility>

#include "lib/core/error.h"
#include "tools/trust/http/interruption.h"

namespace trustkey::http {

namespace {

constexpr const char* kAllowedProtocols = "http,https";
constexpr long kMaxRedirects = 5;

struct CurlEasyDeleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct CurlSlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
struct CurlMimeDeleter {
    void operator()(curl_mime* m) const noexcept { curl_mime_free(m); }
};
using UniqueCurl = std::unique_ptr<CURL, CurlEasyDeleter>;
using UniqueSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;
using UniqueMime = std::unique_ptr<curl_mime, CurlMimeDeleter>;

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK)
            throw Error(Errc::internal, std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc), rc,
                        "curl_global_init");
    });
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

// The scheme of `url` in lower case ("https"), empty when there is none.
std::string scheme_of(const std::string& url) {
    const auto colon = url.find("://");
    if (colon == std::string::npos) return {};
    return lower(std::string_view(url).substr(0, colon));
}

// State shared with curl's C callbacks. Nothing may throw across them: every
// failure is recorded here and the callback returns a value that aborts the transfer.
struct Transfer {
    Response* response = nullptr;
    std::size_t max_response = 0;
    bool too_large = false;
    std::exception_ptr error;
};

extern "C" size_t on_body(char* data, size_t size, size_t count, void* user) noexcept {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    try {
        if (t->response->body.size() + n > t->max_response) {
            t->too_large = true;
            return 0; // CURLE_WRITE_ERROR ends the transfer
        }
        t->response->body.append(data, n);
        return n;
    } catch (...) {
        t->error = std::current_exception();
        return 0;
    }
}

extern "C" size_t on_header(char* data, size_t size, size_t count, void* user) noexcept {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    try {
        const std::string_view line(data, n);
        if (line.starts_with("HTTP/")) {
            // A new response begins (after a redirect or an interim 1xx): keep only its headers.
            t->response->headers.clear();
            return n;
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return n; // blank line or folded header
        t->response->headers[lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
        return n;
    } catch (...) {
        t->error = std::current_exception();
        return 0;
    }
}

// Non-zero stops the transfer (CURLE_ABORTED_BY_CALLBACK) once the user interrupted.
extern "C" int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) noexcept {
    return interrupt_pending() ? 1 : 0;
}

void check_setopt(CURLcode rc, const char* option, const std::string& url) {
    if (rc != CURLE_OK)
        throw Error(Errc::internal, std::string("cannot set ") + option + " for " + url + ": " + curl_easy_strerror(rc),
                    rc, "curl_easy_setopt", url);
}

template <typename T>
void setopt(CURL* h, CURLoption opt, T value, const char* name, const std::string& url) {
    check_setopt(curl_easy_setopt(h, opt, value), name, url);
}

UniqueSlist make_headers(const std::vector<std::pair<std::string, std::string>>& headers, const std::string& url) {
    UniqueSlist list;
    auto append = [&](const std::string& line) {
        if (line.find_first_of("\r\n") != std::string::npos)
            throw Error(Errc::invalid_argument, "header contains a line break: " + line.substr(0, line.find(':')),
                        0, "http request", url);
        curl_slist* next = curl_slist_append(list.get(), line.c_str());
        if (next == nullptr) throw Error(Errc::internal, "out of memory building headers", 0, "curl_slist_append", url);
        (void)list.release();
        list.reset(next);
    };
    for (const auto& [name, value] : headers) {
        if (name.empty() || name.find(':') != std::string::npos)
            throw Error(Errc::invalid_argument, "bad header name \"" + name + "\"", 0, "http request", url);
        // "Name;" is curl's way to send a header with an empty value.
        append(value.empty() ? name + ";" : name + ": " + value);
    }
    // No "Expect: 100-continue" round trip before uploads.
    append("Expect:");
    return list;
}

} // namespace

bool is_tls_failure(std::uint64_t code) noexcept {
    switch (static_cast<CURLcode>(code)) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

std::optional<std::string> Response::header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
}

namespace {

// The whole of a CA file, for a combined bundle.
std::string read_ca_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open())
        throw Error(Errc::config, "cannot open CA certificates " + path.string(), 0, "open", path.string());
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad())
        throw Error(Errc::config, "cannot read CA certificates from " + path.string(), 0, "read", path.string());
    if (!content.empty() && content.back() != '\n') content += '\n';
    return content;
}

} // namespace

struct Client::Impl {
    ClientOptions options;
    UniqueCurl handle;
    // ca_file (or curl's default bundle) followed by extra_ca_files; empty when there are none.
    std::string ca_blob;

    // Runs one transfer. `configure` sets the method-specific options on the handle.
    template <typename Configure>
    Response perform(const std::string& method, const std::string& url,
                     const std::vector<std::pair<std::string, std::string>>& headers, std::size_t max_response,
                     Configure&& configure);
};

Client::Client(ClientOptions options) : m_impl(std::make_unique<Impl>()) {
    global_init();
    m_impl->options = std::move(options);
    m_impl->handle.reset(curl_easy_init());
    if (!m_impl->handle) throw Error(Errc::internal, "cannot create a libcurl handle", 0, "curl_easy_init");
    const ClientOptions& o = m_impl->options;
    if (!o.extra_ca_files.empty()) {
        // One bundle in memory: the base CAs (ca_file, else curl's built-in bundle),
        // then the extra ones, as docker adds certs.d CAs to the system pool.
        if (o.ca_file) {
            m_impl->ca_blob = read_ca_file(*o.ca_file);
        } else {
            char* builtin = nullptr;
            if (curl_easy_getinfo(m_impl->handle.get(), CURLINFO_CAINFO, &builtin) == CURLE_OK && builtin != nullptr) {
                std::error_code ec;
                if (std::filesystem::is_regular_file(builtin, ec)) m_impl->ca_blob = read_ca_file(builtin);
            }
        }
        for (const auto& file : o.extra_ca_files) m_impl->ca_blob += read_ca_file(file);
    }
}

Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

template <typename Configure>
Response Client::Impl::perform(const std::string& method, const std::string& url,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               std::size_t max_response, Configure&& configure) {
    const std::string what = method + " " + url;
    const std::string scheme = scheme_of(url);
    if (scheme != "https" && scheme != "http")
        throw Error(Errc::invalid_argument, what + ": only http and https URLs are supported", 0, "http request", url);
    if (!handle) throw Error(Errc::internal, what + ": client was moved from", 0, "http request", url);

    CURL* h = handle.get();
    // The handle points into this call's buffers (headers, error text, body): clear
    // every option when the call ends, whichever way; open connections stay cached.
    struct ResetOnExit {
        CURL* h;
        ~ResetOnExit() { curl_easy_reset(h); }
    } reset_on_exit{h};
    Response response;
    Transfer transfer{&response, max_response, false, nullptr};
    char errbuf[CURL_ERROR_SIZE] = {};
    UniqueSlist header_list = make_headers(headers, url);

    setopt(h, CURLOPT_URL, url.c_str(), "CURLOPT_URL", url);
    setopt(h, CURLOPT_ERRORBUFFER, errbuf, "CURLOPT_ERRORBUFFER", url);
    setopt(h, CURLOPT_NOSIGNAL, 1L, "CURLOPT_NOSIGNAL", url);
    setopt(h, CURLOPT_PROTOCOLS_STR, kAllowedProtocols, "CURLOPT_PROTOCOLS_STR", url);
    // Redirects stay on the scheme the caller chose: no https -> http downgrade.
    setopt(h, CURLOPT_FOLLOWLOCATION, 1L, "CURLOPT_FOLLOWLOCATION", url);
    setopt(h, CURLOPT_MAXREDIRS, kMaxRedirects, "CURLOPT_MAXREDIRS", url);
    setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, scheme.c_str(), "CURLOPT_REDIR_PROTOCOLS_STR", url);
    setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()), "CURLOPT_CONNECTTIMEOUT_MS",
           url);
    setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()), "CURLOPT_TIMEOUT_MS", url);
    setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str(), "CURLOPT_USERAGENT", url);
    setopt(h, CURLOPT_SSL_VERIFYPEER, options.verify_peer ? 1L : 0L, "CURLOPT_SSL_VERIFYPEER", url);
    setopt(h, CURLOPT_SSL_VERIFYHOST, options.verify_peer ? 2L : 0L, "CURLOPT_SSL_VERIFYHOST", url);
    if (options.ca_file) {
        const std::string ca = options.ca_file->string();
        setopt(h, CURLOPT_CAINFO, ca.c_str(), "CURLOPT_CAINFO", url);
        // Trust only this bundle, not also the system's certificate directory.
        setopt(h, CURLOPT_CAPATH, static_cast<const char*>(nullptr), "CURLOPT_CAPATH", url);
    }
    if (!ca_blob.empty()) {
        // curl copies the blob; it replaces CURLOPT_CAINFO (and keeps the system CA
        // directory unless ca_file cleared it above).
        curl_blob blob{ca_blob.data(), ca_blob.size(), CURL_BLOB_COPY};
        setopt(h, CURLOPT_CAINFO_BLOB, &blob, "CURLOPT_CAINFO_BLOB", url);
    }
    if (options.client_cert) {
        const std::string cert = options.client_cert->string();
        setopt(h, CURLOPT_SSLCERT, cert.c_str(), "CURLOPT_SSLCERT", url);
    }
    if (options.client_key) {
        const std::string key = options.client_key->string();
        setopt(h, CURLOPT_SSLKEY, key.c_str(), "CURLOPT_SSLKEY", url);
    }
    setopt(h, CURLOPT_HTTPHEADER, header_list.get(), "CURLOPT_HTTPHEADER", url);
    setopt(h, CURLOPT_WRITEFUNCTION, &on_body, "CURLOPT_WRITEFUNCTION", url);
    setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&transfer), "CURLOPT_WRITEDATA", url);
    setopt(h, CURLOPT_HEADERFUNCTION, &on_header, "CURLOPT_HEADERFUNCTION", url);
    setopt(h, CURLOPT_HEADERDATA, static_cast<void*>(&transfer), "CURLOPT_HEADERDATA", url);
    // A declared length over the cap fails before any body is read.
    setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_response), "CURLOPT_MAXFILESIZE_LARGE", url);
    setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress, "CURLOPT_XFERINFOFUNCTION", url);
    setopt(h, CURLOPT_NOPROGRESS, 0L, "CURLOPT_NOPROGRESS", url);
    configure(h);

    if (interrupt_pending()) throw Interrupted(what + ": interrupted");
    const CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);

    if (transfer.error) std::rethrow_exception(transfer.error);
    if (transfer.too_large || rc == CURLE_FILESIZE_EXCEEDED)
        throw Error(Errc::io, what + ": response larger than " + std::to_string(max_response) + " bytes", rc,
                    "curl_easy_perform", url);
    if (rc == CURLE_ABORTED_BY_CALLBACK && interrupt_pending()) throw Interrupted(what + ": interrupted");
    if (rc != CURLE_OK) {
        std::string reason = curl_easy_strerror(rc);
        if (errbuf[0] != '\0') reason += " (" + std::string(trim(errbuf)) + ")";
        throw Error(Errc::io, what + ": " + reason, rc, "curl_easy_perform", url);
    }
    response.status = status;
    return response;
}

Response Client::send(const Request& request) {
    const std::string& method = request.method;
    if (!m_impl) throw Error(Errc::internal, method + " " + request.url + ": client was moved from", 0, "http request");
    return m_impl->perform(method, request.url, request.headers, request.max_response, [&](CURL* h) {
        if (method == "GET") {
            setopt(h, CURLOPT_HTTPGET, 1L, "CURLOPT_HTTPGET", request.url);
        } else if (method == "HEAD") {
            setopt(h, CURLOPT_NOBODY, 1L, "CURLOPT_NOBODY", request.url);
        } else if (method == "POST" || method == "PUT" || method == "DELETE") {
            if (method != "POST") setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str(), "CURLOPT_CUSTOMREQUEST", request.url);
            if (method != "DELETE" || !request.body.empty()) {
                setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()),
                       "CURLOPT_POSTFIELDSIZE_LARGE", request.url);
                setopt(h, CURLOPT_POSTFIELDS, request.body.data(), "CURLOPT_POSTFIELDS", request.url);
            }
        } else {
            throw Error(Errc::invalid_argument, "unsupported HTTP method \"" + method + "\" for " + request.url, 0,
                        "http request", request.url);
        }
    });
}

Response Client::post_form(const std::string& url, const std::vector<FormPart>& parts,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
    if (!m_impl || !m_impl->handle)
        throw Error(Errc::internal, "POST " + url + ": client was moved from", 0, "http request", url);
    UniqueMime mime(curl_mime_init(m_impl->handle.get()));
    if (!mime) throw Error(Errc::internal, "POST " + url + ": cannot create a form", 0, "curl_mime_init", url);
    for (const FormPart& part : parts) {
        curl_mimepart* p = curl_mime_addpart(mime.get());
        if (p == nullptr) throw Error(Errc::internal, "POST " + url + ": cannot add a form part", 0, "curl_mime_addpart", url);
        CURLcode rc = curl_mime_name(p, part.name.c_str());
        if (rc == CURLE_OK && !part.filename.empty()) rc = curl_mime_filename(p, part.filename.c_str());
        if (rc == CURLE_OK) rc = curl_mime_data(p, part.content.data(), part.content.size());
        if (rc == CURLE_OK && !part.content_type.empty()) rc = curl_mime_type(p, part.content_type.c_str());
        if (rc != CURLE_OK)
            throw Error(Errc::internal, "POST " + url + ": cannot build form part \"" + part.name + "\": " +
                                            curl_easy_strerror(rc),
                        rc, "curl_mime_*", url);
    }
    // Defaults to a large enough cap for a server's JSON answer to an upload.
    return m_impl->perform("POST", url, headers, Request{}.max_response, [&](CURL* h) {
        setopt(h, CURLOPT_MIMEPOST, mime.get(), "CURLOPT_MIMEPOST", url);
    });
}

} // namespace trustkey::http

namespace trustkey::http {

std::string failure_reason(const Error& e) {
    const std::string& m = e.message();
    const std::string& url = e.subject();
    if (url.empty()) return m;
    const auto at = m.find(url + ": ");
    return at == std::string::npos ? m : m.substr(at + url.size() + 2);
}

} // namespace trustkey::http
