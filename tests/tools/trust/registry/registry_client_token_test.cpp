// RegistryClient through the bearer-token flow: the real docker-registry with
// `auth.token`, and the TokenServer fixture issuing the JWTs it verifies.
#include "tools/trust/registry/registry_client.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/fixtures/expect_error.h"
#include "tests/fixtures/registry_server.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/fixtures/token_server.h"

namespace trustkey::registry {
namespace {

using test::expect_error;
using test::RegistryServer;
using test::TokenRequest;

RegistryServer::Options token_options(bool anonymous_pull = false) {
    RegistryServer::Options o;
    o.token_auth = test::RegistryTokenAuth{"alice", "correct horse", anonymous_pull};
    return o;
}

// Writes $DOCKER_CONFIG/config.json with `user:password` for `host` (as `docker login`
// stores it) and points DOCKER_CONFIG at it.
void use_docker_config(const test::TempDir& dir, const std::string& host, const std::string& user_password) {
    std::ofstream(dir / "config.json") << R"({"auths":{")" << host << R"(":{"auth":")"
                                       << to_base64(as_bytes(user_password)) << "\"}}}";
    ASSERT_EQ(::setenv("DOCKER_CONFIG", dir.path().c_str(), 1), 0);
}

// A client for the plain-HTTP registry that reads credentials from $DOCKER_CONFIG.
RegistryClient docker_config_client(const RegistryServer& server) {
    RegistryClientOptions o;
    o.insecure_registries = {server.host()};
    o.http.timeout = std::chrono::seconds(20);
    return RegistryClient(o);
}

// The token requests made since `mark` requests had been logged.
std::vector<TokenRequest> requests_since(const test::TokenServer& tokens, std::size_t mark) {
    const auto all = tokens.requests();
    return {all.begin() + static_cast<std::ptrdiff_t>(std::min(mark, all.size())), all.end()};
}

TEST(RegistryClientTokenTest, ResolvesThroughTheTokenFlowWithDockerConfigCredentials) {
    RegistryServer server(token_options());
    const test::TokenServer& tokens = *server.token_server();
    const auto v1 = server.push_image("team/app", "v1");
    const auto v2 = server.push_image("team/app", "v2");
    const auto other = server.push_image("team/other", "v1");
    test::TempDir config("trustkey-dockercfg");
    use_docker_config(config, server.host(), "alice:correct horse");
    const std::size_t mark = tokens.requests().size();

    RegistryClient client = docker_config_client(server);
    const ManifestInfo info = client.resolve(Reference::parse(server.host() + "/team/app:v1"));
    EXPECT_EQ(info.digest, v1.digest);
    EXPECT_EQ(info.size, v1.size);

    // One token request, as docker makes it: basic credentials, the registry's service
    // and the pull scope from the challenge.
    auto asked = requests_since(tokens, mark);
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0].status, 200);
    EXPECT_EQ(asked[0].account, "alice");
    EXPECT_EQ(asked[0].service, tokens.service());
    EXPECT_EQ(asked[0].scopes, std::vector<std::string>{"repository:team/app:pull"});
    EXPECT_EQ(asked[0].granted, std::vector<std::string>{"repository:team/app:pull"});

    // The token is reused for the same repository: no new request.
    EXPECT_EQ(client.resolve(Reference::parse(server.host() + "/team/app:v2")).digest, v2.digest);
    EXPECT_EQ(requests_since(tokens, mark).size(), 1u);

    // Another repository needs its own scope.
    EXPECT_EQ(client.resolve(Reference::parse(server.host() + "/team/other:v1")).digest, other.digest);
    asked = requests_since(tokens, mark);
    ASSERT_EQ(asked.size(), 2u);
    EXPECT_EQ(asked[1].scopes, std::vector<std::string>{"repository:team/other:pull"});
}

TEST(RegistryClientTokenTest, WrongPasswordIsOneLineNamingTheTokenServer) {
    RegistryServer server(token_options());
    const test::TokenServer& tokens = *server.token_server();
    server.push_image("team/app", "v1");
    test::TempDir config("trustkey-dockercfg");
    use_docker_config(config, server.host(), "alice:wrong");
    const std::size_t mark = tokens.requests().size();

    RegistryClient client = docker_config_client(server);
    const std::string ref = server.host() + "/team/app:v1";
    const Error e = expect_error([&] { client.resolve(Reference::parse(ref)); });
    EXPECT_EQ(e.errc(), Errc::denied);
    EXPECT_EQ(e.code(), 401u);
    const std::string what = e.what();
    for (const std::string& part : {tokens.realm(), std::string("401"), ref, server.host()})
        EXPECT_NE(what.find(part), std::string::npos) << part << " in: " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    // The password never shows in the message.
    EXPECT_EQ(what.find("wrong"), std::string::npos) << what;

    const auto asked = requests_since(tokens, mark);
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0].status, 401);
    EXPECT_FALSE(asked[0].account.has_value());
}

// config.json as `docker login` leaves it for a registry that issued an identity
// (refresh) token: user "<token>", empty password, and the token.
void use_identity_token(const test::TempDir& dir, const std::string& host, const std::string& token) {
    std::ofstream(dir / "config.json") << R"({"auths":{")" << host << R"(":{"auth":")"
                                       << to_base64(as_bytes(std::string("<token>:"))) << R"(","identitytoken":")"
                                       << token << "\"}}}";
    ASSERT_EQ(::setenv("DOCKER_CONFIG", dir.path().c_str(), 1), 0);
}

TEST(RegistryClientTokenTest, IdentityTokenUsesTheOAuthRefreshGrant) {
    RegistryServer::Options options = token_options();
    options.token_auth->identity_token = "refresh-4f1c2e";
    RegistryServer server(options);
    const test::TokenServer& tokens = *server.token_server();
    const auto image = server.push_image("team/app", "v1");
    test::TempDir config("trustkey-dockercfg");
    use_identity_token(config, server.host(), "refresh-4f1c2e");
    const std::size_t mark = tokens.requests().size();

    RegistryClient client = docker_config_client(server);
    const ManifestInfo info = client.resolve(Reference::parse(server.host() + "/team/app:v1"));
    EXPECT_EQ(info.digest, image.digest);
    EXPECT_EQ(info.size, image.size);
    const auto asked = requests_since(tokens, mark);
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0].grant, "refresh_token");
    EXPECT_EQ(asked[0].account, "alice");
    EXPECT_EQ(asked[0].service, tokens.service());
    EXPECT_EQ(asked[0].scopes, std::vector<std::string>{"repository:team/app:pull"});
}

TEST(RegistryClientTokenTest, RejectedIdentityTokenNamesTheTokenServer) {
    RegistryServer::Options options = token_options();
    options.token_auth->identity_token = "refresh-4f1c2e";
    RegistryServer server(options);
    server.push_image("team/app", "v1");
    test::TempDir config("trustkey-dockercfg");
    use_identity_token(config, server.host(), "refresh-revoked");

    RegistryClient client = docker_config_client(server);
    const Error e = expect_error([&] { client.resolve(Reference::parse(server.host() + "/team/app:v1")); });
    EXPECT_EQ(e.errc(), Errc::denied);
    const std::string what = e.what();
    EXPECT_NE(what.find(server.token_server()->realm()), std::string::npos) << what;
    EXPECT_EQ(what.find("refresh-revoked"), std::string::npos) << what;
    EXPECT_EQ(server.token_server()->requests().back().grant, "refresh_token");
    EXPECT_EQ(server.token_server()->requests().back().status, 401);
}

TEST(RegistryClientTokenTest, AnonymousTokenWhenTheTokenServerAllowsPull) {
    RegistryServer server(token_options(true));
    const test::TokenServer& tokens = *server.token_server();
    const auto image = server.push_image("public/app", "1.0");
    const std::size_t mark = tokens.requests().size();

    RegistryClientOptions o;
    o.insecure_registries = {server.host()};
    o.docker_config = DockerConfig{};  // no credentials at all
    RegistryClient client(o);
    const ManifestInfo info = client.resolve(Reference::parse(server.host() + "/public/app:1.0"));
    EXPECT_EQ(info.digest, image.digest);
    EXPECT_EQ(info.size, image.size);

    const auto asked = requests_since(tokens, mark);
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0].account, "");  // no Authorization header was sent
    EXPECT_EQ(asked[0].granted, std::vector<std::string>{"repository:public/app:pull"});
}

TEST(RegistryClientTokenTest, AnonymousRefusedByTheTokenServerSaysSo) {
    RegistryServer server(token_options(false));
    const test::TokenServer& tokens = *server.token_server();
    server.push_image("private/app", "1.0");
    RegistryClientOptions o;
    o.insecure_registries = {server.host()};
    o.docker_config = DockerConfig{};
    RegistryClient client(o);
    const Error e = expect_error([&] { client.resolve(Reference::parse(server.host() + "/private/app:1.0")); });
    EXPECT_EQ(e.errc(), Errc::denied);
    const std::string what = e.what();
    EXPECT_NE(what.find(tokens.realm()), std::string::npos) << what;
    EXPECT_NE(what.find("anonymous"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
}

TEST(RegistryClientTokenTest, UnknownTagThroughTheTokenFlowIsNotFound) {
    RegistryServer server(token_options());
    server.push_image("team/app", "v1");
    RegistryClientOptions o;
    o.insecure_registries = {server.host()};
    o.credentials = Credentials{"alice", secure_from("correct horse"), {}};
    RegistryClient client(o);
    const Error e = expect_error([&] { client.resolve(Reference::parse(server.host() + "/team/app:nope")); });
    EXPECT_EQ(e.errc(), Errc::not_found);
    EXPECT_NE(std::string(e.what()).find(server.host() + "/team/app:nope"), std::string::npos) << e.what();
}

} // namespace
} // namespace trustkey::registry
