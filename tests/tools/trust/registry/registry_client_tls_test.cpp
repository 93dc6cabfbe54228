// RegistryClient over HTTPS with docker's certs.d layout (a temporary certs root), against
// the real docker-registry with TLS and, for client certificates, `http.tls.clientcas`.
#include "tools/trust/registry/registry_client.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "lib/core/error.h"
#include "tests/fixtures/expect_error.h"
#include "tests/fixtures/registry_server.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::registry {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::RegistryServer;

RegistryServer::Options tls_options(bool client_certificates = false) {
    RegistryServer::Options o;
    o.tls = true;
    o.client_certificates = client_certificates;
    return o;
}

// A client reading certs.d from `root` only, without credentials. The fixtures listen on
// 127.0.0.1, which docker (and the client by default) treats as insecure: here it is not.
RegistryClient client_with_root(const fs::path& root) {
    RegistryClientOptions o;
    o.loopback_insecure = false;
    o.certs_roots = std::vector<fs::path>{root};
    o.docker_config = DockerConfig{};
    o.http.timeout = std::chrono::seconds(20);
    return RegistryClient(o);
}

fs::path host_dir(const test::TempDir& root, const RegistryServer& server) {
    const fs::path dir = root / server.host();
    fs::create_directories(dir);
    return dir;
}

TEST(RegistryClientTlsTest, CaOnlyInCertsDirectoryIsTrusted) {
    RegistryServer server(tls_options());
    const auto image = server.push_image("secure/app", "v1");
    test::TempDir root("trustkey-certs-d");
    fs::copy_file(server.ca_cert_path(), host_dir(root, server) / "ca.crt");

    RegistryClient client = client_with_root(root.path());
    const ManifestInfo info = client.resolve(Reference::parse(server.host() + "/secure/app:v1"));
    EXPECT_EQ(info.digest, image.digest);
    EXPECT_EQ(info.size, image.size);
}

TEST(RegistryClientTlsTest, WithoutTheCaTheTlsErrorNamesTheUrlAndWhereTheCaGoes) {
    RegistryServer server(tls_options());
    server.push_image("secure/app", "v1");
    test::TempDir root("trustkey-certs-d");
    host_dir(root, server);  // an empty directory for the host

    RegistryClient client = client_with_root(root.path());
    const Error e = expect_error([&] { client.resolve(Reference::parse(server.host() + "/secure/app:v1")); });
    EXPECT_EQ(e.errc(), Errc::io);
    const std::string what = e.what();
    EXPECT_NE(what.find("TLS failure with registry " + server.host()), std::string::npos) << what;
    EXPECT_NE(what.find(server.url() + "/v2/secure/app/manifests/v1"), std::string::npos) << what;
    EXPECT_NE(what.find((root / server.host() / "ca.crt").string()), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
}

TEST(RegistryClientTlsTest, CaOfAnotherHostDoesNotHelp) {
    RegistryServer server(tls_options());
    server.push_image("secure/app", "v1");
    test::TempDir root("trustkey-certs-d");
    // Docker keys the directory by host and port: 127.0.0.1 without the port is another registry.
    fs::create_directories(root / "127.0.0.1");
    fs::copy_file(server.ca_cert_path(), root / "127.0.0.1" / "ca.crt");
    RegistryClient client = client_with_root(root.path());
    EXPECT_EQ(expect_error([&] { client.resolve(Reference::parse(server.host() + "/secure/app:v1")); }).errc(),
              Errc::io);
}

TEST(RegistryClientTlsTest, ClientCertificateFromCertsDirectory) {
    RegistryServer server(tls_options(true));
    const auto image = server.push_image("mtls/app", "v1");
    test::TempDir root("trustkey-certs-d");
    const fs::path dir = host_dir(root, server);
    fs::copy_file(server.ca_cert_path(), dir / "ca.crt");

    // Only the CA: the registry refuses the handshake without a client certificate.
    {
        RegistryClient client = client_with_root(root.path());
        const Error e = expect_error([&] { client.resolve(Reference::parse(server.host() + "/mtls/app:v1")); });
        EXPECT_EQ(e.errc(), Errc::io);
        EXPECT_NE(std::string(e.what()).find(server.url() + "/v2/mtls/app/manifests/v1"), std::string::npos)
            << e.what();
    }
    // With client.cert + client.key beside it, it resolves.
    fs::copy_file(server.client_cert_path(), dir / "client.cert");
    fs::copy_file(server.client_key_path(), dir / "client.key");
    RegistryClient client = client_with_root(root.path());
    const ManifestInfo info = client.resolve(Reference::parse(server.host() + "/mtls/app:v1"));
    EXPECT_EQ(info.digest, image.digest);
    EXPECT_EQ(info.size, image.size);
}

TEST(RegistryClientTlsTest, BrokenCertsDirectoryIsAConfigErrorNamingTheFile) {
    RegistryServer server(tls_options());
    test::TempDir root("trustkey-certs-d");
    const fs::path dir = host_dir(root, server);
    fs::copy_file(server.ca_cert_path(), dir / "ca.cert");  // docker's classic mistake: a CA named .cert
    RegistryClient client = client_with_root(root.path());
    const Error e = expect_error([&] { client.resolve(Reference::parse(server.host() + "/secure/app:v1")); });
    EXPECT_EQ(e.errc(), Errc::config);
    EXPECT_NE(std::string(e.what()).find((dir / "ca.cert").string()), std::string::npos) << e.what();
}

TEST(RegistryClientTlsTest, PlainHttpRegistryIgnoresCertsDirectory) {
    RegistryServer server;  // plain HTTP, listed as insecure
    const auto image = server.push_image("app", "v1");
    test::TempDir root("trustkey-certs-d");
    std::ofstream(host_dir(root, server) / "broken.cert") << "x";  // would be an error over TLS
    RegistryClientOptions o;
    o.certs_roots = std::vector<fs::path>{root.path()};
    o.insecure_registries = {server.host()};
    o.docker_config = DockerConfig{};
    RegistryClient client(o);
    EXPECT_EQ(client.resolve(Reference::parse(server.host() + "/app:v1")).digest, image.digest);
}

} // namespace
} // namespace trustkey::registry
