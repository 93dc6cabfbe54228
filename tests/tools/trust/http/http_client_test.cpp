// trustkey::http::Client against the real notary-server (HTTPS with the fixture's CA)
// and against a loopback port nothing listens on.
#include "tools/trust/http/http_client.h"
#include "tests/fixtures/expect_error.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "lib/core/error.h"
#include "tests/fixtures/notary_server.h"

namespace trustkey::test {
namespace {

using http::Client;
using http::ClientOptions;
using http::Request;
using http::Response;

Client trusting(const NotaryServer& server) {
    ClientOptions options;
    options.ca_file = server.ca_cert_path();
    options.connect_timeout = std::chrono::seconds(5);
    options.timeout = std::chrono::seconds(20);
    return Client(options);
}

Request get(const std::string& url) {
    Request r;
    r.url = url;
    return r;
}

// A loopback TCP port that was free a moment ago: bound, then closed, so a connect
// to it is refused.
std::uint16_t closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

using test::expect_error;

TEST(HttpClient, GetsOverHttpsTrustingTheGivenCa) {
    NotaryServer server;
    Client client = trusting(server);

    const Response root = client.send(get(server.url() + "/v2/"));
    EXPECT_EQ(root.status, 200);
    EXPECT_EQ(nlohmann::json::parse(root.body), nlohmann::json::object()) << root.body;

    // Header names come back lower-cased, values trimmed.
    const Response key = client.send(get(server.url() + "/v2/example.com/app/_trust/tuf/timestamp.key"));
    ASSERT_EQ(key.status, 200) << key.body;
    ASSERT_TRUE(key.header("content-length").has_value());
    EXPECT_EQ(*key.header("content-length"), std::to_string(key.body.size()));
    EXPECT_FALSE(key.header("Content-Length").has_value());
    const auto parsed = nlohmann::json::parse(key.body);
    EXPECT_EQ(parsed.value("keytype", ""), "ecdsa");

    // The same client serves several requests in a row. (Until a root lists it, the
    // server makes a new key for each request, so only the shape is the same.)
    const Response again = client.send(get(server.url() + "/v2/example.com/app/_trust/tuf/timestamp.key"));
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(nlohmann::json::parse(again.body).value("keytype", ""), "ecdsa");
}

TEST(HttpClient, HttpErrorStatusIsReturnedNotThrown) {
    NotaryServer server;
    Client client = trusting(server);
    const Response r = client.send(get(server.url() + "/v2/example.com/none/_trust/tuf/root.json"));
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find("METADATA_NOT_FOUND"), std::string::npos) << r.body;

    // HEAD: the same status (the routes are GET-only, so 404 again), and no body.
    Request head = get(server.url() + "/v2/example.com/none/_trust/tuf/root.json");
    head.method = "HEAD";
    const Response h = client.send(head);
    EXPECT_EQ(h.status, 404);
    EXPECT_TRUE(h.body.empty()) << h.body;
}

TEST(HttpClient, UntrustedServerCertificateIsAClearTlsError) {
    NotaryServer server;
    // No CA given: the system store does not know the fixture's CA.
    Client client;
    const std::string url = server.url() + "/v2/";
    const Error e = expect_error([&] { client.send(get(url)); });
    EXPECT_EQ(e.errc(), Errc::io);
    EXPECT_EQ(e.code(), static_cast<std::uint64_t>(CURLE_PEER_FAILED_VERIFICATION)) << e.what();
    EXPECT_NE(e.message().find(url), std::string::npos) << e.what();
    EXPECT_NE(e.message().find("certificate"), std::string::npos) << e.what();
}

TEST(HttpClient, CaFileReplacesTheSystemStore) {
    NotaryServer server;
    // A CA file that does not hold the server's CA: refused, even though the system
    // store is there too.
    TempDir other("trustkey-http-other-ca");
    make_self_signed_ec_cert(other / "ca.key", other / "ca.crt", "trustkey other CA");
    ClientOptions options;
    options.ca_file = other / "ca.crt";
    Client client(options);
    const Error e = expect_error([&] { client.send(get(server.url() + "/v2/")); });
    EXPECT_EQ(e.code(), static_cast<std::uint64_t>(CURLE_PEER_FAILED_VERIFICATION)) << e.what();
}

TEST(HttpClient, ExtraCaFilesAreTrustedBesideTheCaFile) {
    NotaryServer server;
    TempDir other("trustkey-http-other-ca");
    make_self_signed_ec_cert(other / "ca.key", other / "ca.crt", "trustkey other CA");
    const std::string url = server.url() + "/v2/";
    // The base CA does not know the server; the extra one (as from certs.d) does.
    ClientOptions options;
    options.ca_file = other / "ca.crt";
    options.extra_ca_files = {server.ca_cert_path()};
    Client client(options);
    EXPECT_EQ(client.send(get(url)).status, 200);
    // Without the base CA file: curl's own bundle plus the extra CA.
    ClientOptions system;
    system.extra_ca_files = {server.ca_cert_path()};
    Client on_system(system);
    EXPECT_EQ(on_system.send(get(url)).status, 200);
    // An unrelated extra CA changes nothing: still a TLS failure.
    ClientOptions unrelated;
    unrelated.extra_ca_files = {other / "ca.crt"};
    Client refused(unrelated);
    const Error e = expect_error([&] { refused.send(get(url)); });
    EXPECT_TRUE(http::is_tls_failure(e.code())) << e.what();
    EXPECT_FALSE(http::is_tls_failure(static_cast<std::uint64_t>(CURLE_COULDNT_CONNECT)));
}

TEST(HttpClient, UnreadableExtraCaFileIsAConfigErrorNamingIt) {
    TempDir dir("trustkey-http-extra-ca");
    ClientOptions options;
    options.extra_ca_files = {dir / "absent.crt"};
    const Error e = expect_error([&] { Client client(options); });
    EXPECT_EQ(e.errc(), Errc::config);
    EXPECT_NE(e.message().find((dir / "absent.crt").string()), std::string::npos) << e.what();
}

TEST(HttpClient, MissingClientCertificateIsAnError) {
    NotaryServer server;
    ClientOptions options;
    options.ca_file = server.ca_cert_path();
    options.client_cert = server.dir() / "no-such-client.crt";
    options.client_key = server.dir() / "no-such-client.key";
    Client client(options);
    const std::string url = server.url() + "/v2/";
    const Error e = expect_error([&] { client.send(get(url)); });
    EXPECT_EQ(e.errc(), Errc::io);
    EXPECT_EQ(e.code(), static_cast<std::uint64_t>(CURLE_SSL_CERTPROBLEM)) << e.what();
    EXPECT_NE(e.message().find(url), std::string::npos) << e.what();
}

TEST(HttpClient, ClosedPortFailsFastNamingTheUrl) {
    const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v2/";
    ClientOptions options;
    options.connect_timeout = std::chrono::seconds(10);
    Client client(options);
    const auto start = std::chrono::steady_clock::now();
    const Error e = expect_error([&] { client.send(get(url)); });
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, std::chrono::seconds(5));
    EXPECT_EQ(e.errc(), Errc::io);
    EXPECT_EQ(e.code(), static_cast<std::uint64_t>(CURLE_COULDNT_CONNECT)) << e.what();
    EXPECT_NE(e.message().find("GET " + url), std::string::npos) << e.what();
    EXPECT_EQ(e.subject(), url);
}

TEST(HttpClient, ResponseSizeCapIsEnforced) {
    NotaryServer server;
    Client client = trusting(server);
    const std::string url = server.url() + "/v2/example.com/app/_trust/tuf/timestamp.key";
    const Response full = client.send(get(url));
    ASSERT_EQ(full.status, 200);
    ASSERT_GT(full.body.size(), 16u);

    // Each answer is a fresh key of the same type, so of the same length.
    Request exact = get(url);
    exact.max_response = full.body.size();
    EXPECT_EQ(client.send(exact).body.size(), full.body.size());

    Request tiny = get(url);
    tiny.max_response = 16;
    const Error e = expect_error([&] { client.send(tiny); });
    EXPECT_EQ(e.errc(), Errc::io);
    EXPECT_NE(e.message().find("larger than 16 bytes"), std::string::npos) << e.what();
    EXPECT_NE(e.message().find(url), std::string::npos) << e.what();

    // The client is still usable after an aborted transfer.
    EXPECT_EQ(client.send(get(url)).status, 200);
}

TEST(HttpClient, RejectsOtherSchemesMethodsAndHeaderInjection) {
    Client client;
    for (const std::string url : {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "no-scheme"}) {
        const Error e = expect_error([&] { client.send(get(url)); });
        EXPECT_EQ(e.errc(), Errc::invalid_argument) << url << ": " << e.what();
    }
    Request bad_method = get("http://127.0.0.1:1/");
    bad_method.method = "TRACE";
    EXPECT_EQ(expect_error([&] { client.send(bad_method); }).errc(), Errc::invalid_argument);

    Request injected = get("http://127.0.0.1:1/");
    injected.headers = {{"X-Test", "a\r\nX-Injected: b"}};
    EXPECT_EQ(expect_error([&] { client.send(injected); }).errc(), Errc::invalid_argument);
    Request bad_name = get("http://127.0.0.1:1/");
    bad_name.headers = {{"Bad:Name", "v"}};
    EXPECT_EQ(expect_error([&] { client.send(bad_name); }).errc(), Errc::invalid_argument);
}

TEST(HttpClient, MultipartPostReachesTheServer) {
    NotaryServer server;
    Client client = trusting(server);
    // A form part the server cannot parse as metadata: it answers with its own error,
    // which proves the multipart body and the role file name arrived.
    const Response r = client.post_form(server.url() + "/v2/example.com/form/_trust/tuf/",
                                        {{"files", "root", "not json", "application/octet-stream"}});
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("\"errors\""), std::string::npos) << r.body;
}

} // namespace
} // namespace trustkey::test
