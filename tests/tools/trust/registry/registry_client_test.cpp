// RegistryClient against the real docker-registry (RegistryServer fixture).
#include "tools/trust/registry/registry_client.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/fixtures/registry_server.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::registry {
namespace {

using test::RegistryServer;

RegistryClientOptions plain_options(const RegistryServer& server) {
    RegistryClientOptions o;
    o.insecure_registries = {server.host()};
    o.docker_config = DockerConfig{};  // no credentials
    o.http.timeout = std::chrono::seconds(20);
    return o;
}

// Runs `f`, expecting a trustkey::Error with `errc` whose text holds every one of `parts`.
template <typename F>
void expect_error(F&& f, Errc errc, const std::vector<std::string>& parts) {
    try {
        f();
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(errc_name(e.errc()), errc_name(errc)) << e.what();
        for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
}

// Writes a docker config.json with `user:password` for `host` into a temp dir and
// points DOCKER_CONFIG at it.
void use_docker_config(const test::TempDir& dir, const std::string& host, const std::string& user_password) {
    std::ofstream(dir / "config.json") << R"({"auths":{")" << host << R"(":{"auth":")"
                                       << to_base64(as_bytes(user_password)) << "\"}}}";
    ASSERT_EQ(::setenv("DOCKER_CONFIG", dir.path().c_str(), 1), 0);
}

TEST(RegistryClientTest, ResolvesPushedTagToItsDigestAndSize) {
    RegistryServer server;
    const auto image = server.push_image("team/app", "v1");
    server.push_image("team/app", "v2");  // another tag in the same repository
    RegistryClient client(plain_options(server));
    const ManifestInfo info = client.resolve(Reference::parse(server.host() + "/team/app:v1"));
    EXPECT_EQ(info.digest, image.digest);
    EXPECT_EQ(info.size, image.size);
    EXPECT_EQ(info.media_type, RegistryServer::kManifestMediaType);

    // By digest, the same answer.
    const ManifestInfo by_digest = client.resolve(Reference::parse(server.host() + "/team/app@" + image.digest));
    EXPECT_EQ(by_digest.digest, image.digest);
    EXPECT_EQ(by_digest.size, image.size);
}

TEST(RegistryClientTest, DigestWinsOverTagAndUnknownDigestIsNotFound) {
    RegistryServer server;
    const auto one = server.push_image("app", "one");
    const auto two = server.push_image("app", "two");
    const auto elsewhere = server.push_image("other", "x");
    RegistryClient client(plain_options(server));
    // As docker does, NAME:TAG@DIGEST pulls by the digest.
    const ManifestInfo info = client.resolve(Reference::parse(server.host() + "/app:one@" + two.digest));
    EXPECT_EQ(info.digest, two.digest);
    EXPECT_NE(info.digest, one.digest);
    EXPECT_EQ(info.size, two.size);
    // A manifest of another repository is not found through this one.
    expect_error([&] { client.resolve(Reference::parse(server.host() + "/app@" + elsewhere.digest)); },
                 Errc::not_found, {server.host() + "/app@" + elsewhere.digest, "not found"});
}

TEST(RegistryClientTest, UnknownTagAndRepositoryAreNotFound) {
    RegistryServer server;
    server.push_image("app", "v1");
    RegistryClient client(plain_options(server));
    expect_error([&] { client.resolve(Reference::parse(server.host() + "/app:nope")); }, Errc::not_found,
                 {server.host() + "/app:nope", "not found"});
    expect_error([&] { client.resolve(Reference::parse(server.host() + "/missing/repo")); }, Errc::not_found,
                 {server.host() + "/missing/repo:latest", "not found"});
}

TEST(RegistryClientTest, BasicAuthWithCredentialsFromDockerConfig) {
    RegistryServer::Options options;
    options.basic_auth = test::RegistryBasicAuth{"alice", "correct horse"};
    RegistryServer server(options);
    const auto image = server.push_image("private/app", "v1");

    test::TempDir config("trustkey-dockercfg");
    use_docker_config(config, "http://" + server.host() + "/", "alice:correct horse");
    RegistryClientOptions o = plain_options(server);
    o.docker_config.reset();  // read $DOCKER_CONFIG/config.json
    RegistryClient client(o);
    const ManifestInfo info = client.resolve(Reference::parse(server.host() + "/private/app:v1"));
    EXPECT_EQ(info.digest, image.digest);
    EXPECT_EQ(info.size, image.size);
    // The answered challenge is reused.
    EXPECT_EQ(client.resolve(Reference::parse(server.host() + "/private/app@" + image.digest)).size, image.size);
}

TEST(RegistryClientTest, BasicAuthWithWrongPasswordIsAClear401) {
    RegistryServer::Options options;
    options.basic_auth = test::RegistryBasicAuth{"alice", "correct horse"};
    RegistryServer server(options);
    server.push_image("private/app", "v1");

    test::TempDir config("trustkey-dockercfg");
    use_docker_config(config, server.host(), "alice:wrong");
    RegistryClientOptions o = plain_options(server);
    o.docker_config.reset();
    RegistryClient client(o);
    expect_error([&] { client.resolve(Reference::parse(server.host() + "/private/app:v1")); }, Errc::denied,
                 {server.host() + "/private/app:v1", "rejected the credentials", "401"});
}

TEST(RegistryClientTest, BasicAuthWithoutCredentialsSaysSo) {
    RegistryServer::Options options;
    options.basic_auth = test::RegistryBasicAuth{"alice", "pw"};
    RegistryServer server(options);
    RegistryClient client(plain_options(server));
    expect_error([&] { client.resolve(Reference::parse(server.host() + "/private/app:v1")); }, Errc::denied,
                 {server.host() + "/private/app:v1", "no credentials", "401"});
}

TEST(RegistryClientTest, HttpsRegistryTrustedThroughItsCaWithExplicitCredentials) {
    RegistryServer::Options options;
    options.tls = true;
    options.basic_auth = test::RegistryBasicAuth{"bob", "pw2"};
    RegistryServer server(options);
    const auto image = server.push_image("secure/app", "1.0");

    RegistryClientOptions o;
    o.http.ca_file = server.ca_cert_path();
    o.credentials = Credentials{"bob", secure_from("pw2"), {}};
    o.loopback_insecure = false;  // 127.0.0.1 checked as a secure registry
    RegistryClient client(o);
    const ManifestInfo info = client.resolve(Reference::parse(server.host() + "/secure/app:1.0"));
    EXPECT_EQ(info.digest, image.digest);
    EXPECT_EQ(info.size, image.size);

    // Without the CA the certificate is refused: a transport error naming the reference.
    RegistryClientOptions untrusted;
    untrusted.credentials = o.credentials;
    untrusted.loopback_insecure = false;
    RegistryClient other(untrusted);
    expect_error([&] { other.resolve(Reference::parse(server.host() + "/secure/app:1.0")); }, Errc::io,
                 {server.host() + "/secure/app:1.0"});
}

TEST(RegistryClientTest, UnreachableRegistryIsATransportError) {
    std::string host;
    {
        RegistryServer server;  // a port that was just free; nothing listens once it stops
        host = server.host();
    }
    RegistryClientOptions o;
    o.insecure_registries = {host};
    o.docker_config = DockerConfig{};
    RegistryClient client(o);
    expect_error([&] { client.resolve(Reference::parse(host + "/app:v1")); }, Errc::io, {host + "/app:v1"});
}

// As docker's default insecure-registries (127.0.0.0/8): a loopback registry is reached
// without being listed, first over HTTPS, then over plain HTTP; by name too.
TEST(RegistryClientTest, LoopbackRegistryIsInsecureByDefault) {
    RegistryServer server;
    const auto image = server.push_image("app", "v1");
    RegistryClientOptions o;
    o.docker_config = DockerConfig{};
    RegistryClient client(o);
    EXPECT_EQ(client.resolve(Reference::parse(server.host() + "/app:v1")).digest, image.digest);
    RegistryClient by_name(o);
    const std::string localhost = "localhost:" + std::to_string(server.port());
    EXPECT_EQ(by_name.resolve(Reference::parse(localhost + "/app:v1")).digest, image.digest);
}

// A plain-HTTP registry that is not insecure: one line saying it does not speak TLS and
// naming the option, without internal call names.
TEST(RegistryClientTest, PlainHttpRegistryOverHttpsNamesInsecureRegistry) {
    RegistryServer server;
    server.push_image("app", "v1");
    RegistryClientOptions o;
    o.docker_config = DockerConfig{};
    o.loopback_insecure = false;
    RegistryClient client(o);
    expect_error([&] { client.resolve(Reference::parse(server.host() + "/app:v1")); }, Errc::io,
                 {"registry " + server.host() + " does not answer in TLS for " + server.host() + "/app:v1",
                  "wrong version number", "a plain-HTTP registry needs --insecure-registry " + server.host()});
    try {
        client.resolve(Reference::parse(server.host() + "/app:v1"));
    } catch (const Error& e) {
        EXPECT_EQ(e.user_message().find("curl_easy_perform"), std::string::npos) << e.user_message();
    }
}

} // namespace
} // namespace trustkey::registry
