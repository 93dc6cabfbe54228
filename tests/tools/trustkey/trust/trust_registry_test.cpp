// `trustkey trust sign` resolving digests from registries the way docker reaches them:
// a token-auth registry (bearer tokens from the TokenServer fixture, credentials from
// $DOCKER_CONFIG/config.json) and an HTTPS registry on 127.0.0.1, insecure by default. The real binary, trustkeyd, notary server and
// docker-registry; the result is read back with the real notary CLI.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/core/encoding.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/registry_server.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/fixtures/token_server.h"
#include "tests/tools/trustkey/cli_daemon.h"
#include "tests/tools/trustkey/cli_expect.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

class TrustRegistryTest : public ::testing::Test {
protected:
    // `trustkey trust … args` with DOCKER_CONFIG in the work directory; the registry is
    // reached over plain HTTP unless it serves TLS.
    ProcessResult trust(const RegistryServer& registry, const std::vector<std::string>& args) const {
        std::vector<std::string> full{"trust", "--server", m_notary.url(), "--tlscacert",
                                      m_notary.ca_cert_path().string()};
        if (!registry.tls()) full.insert(full.end(), {"--insecure-registry", registry.host()});
        full.insert(full.end(), args.begin(), args.end());
        ProcessOptions o;
        o.env.push_back("DOCKER_CONFIG=" + (m_work / "docker").string());
        o.unset.push_back("DOCKER_CONTENT_TRUST_SERVER");
        return m_daemon.trustkey(full, o);
    }

    // $DOCKER_CONFIG/config.json with `user:password` for `host`, as `docker login` writes it.
    void login(const std::string& host, const std::string& user_password) const {
        fs::create_directories(m_work / "docker");
        std::ofstream(m_work / "docker" / "config.json")
            << R"({"auths":{")" << host << R"(":{"auth":")" << to_base64(as_bytes(user_password)) << "\"}}}";
    }

    // The `notary list` line for `tag` in `gun`, empty when it is not listed.
    std::string listed(const std::string& gun, const std::string& tag) {
        const ProcessResult r = m_notary.run_notary(m_work / ("notary-" + std::to_string(++m_runs)), {"list", gun});
        EXPECT_EQ(r.exit_code, 0) << describe(r) << m_notary.log_tail(10);
        std::istringstream lines(r.out);
        for (std::string line; std::getline(lines, line);)
            if (line.rfind(tag + " ", 0) == 0) return line;
        return {};
    }

    NotaryServer m_notary;
    CliDaemon m_daemon;
    TempDir m_work{"trustkey-trust-registry"};
    int m_runs = 0;
};

RegistryServer::Options token_auth() {
    RegistryServer::Options o;
    o.token_auth = RegistryTokenAuth{"publisher", "s3cret", false};
    return o;
}

TEST_F(TrustRegistryTest, SignResolvesTheDigestThroughABearerTokenRegistry) {
    RegistryServer registry(token_auth());
    const TokenServer& tokens = *registry.token_server();
    const PushedImage v1 = registry.push_image("team/app", "v1");
    const PushedImage v2 = registry.push_image("team/app", "v2");
    login(registry.host(), "publisher:s3cret");
    const std::size_t mark = tokens.requests().size();

    const std::string image = registry.host() + "/team/app";
    const ProcessResult sign = trust(registry, {"sign", image + ":v1", image + ":v2"});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(sign.out.find("Successfully signed " + image + ":v1"), std::string::npos) << sign.out;
    EXPECT_NE(sign.out.find("Successfully signed " + image + ":v2"), std::string::npos) << sign.out;
    for (const auto& [tag, pushed] : {std::pair{"v1", v1}, std::pair{"v2", v2}}) {
        const std::string line = listed(registry.host() + "/team/app", tag);
        EXPECT_NE(line.find(pushed.digest.substr(7)), std::string::npos) << line;
        EXPECT_NE(line.find(" " + std::to_string(pushed.size) + " "), std::string::npos) << line;
    }

    // One token, asked with the publisher's credentials for pull on the repository and
    // reused for the second tag.
    const auto all = tokens.requests();
    ASSERT_EQ(all.size(), mark + 1) << tokens.log_tail();
    EXPECT_EQ(all.back().status, 200);
    EXPECT_EQ(all.back().account, "publisher");
    EXPECT_EQ(all.back().scopes, std::vector<std::string>{"repository:team/app:pull"});
}

TEST_F(TrustRegistryTest, WrongRegistryPasswordFailsWithOneLineNamingTheTokenServer) {
    RegistryServer registry(token_auth());
    registry.push_image("team/app", "v1");
    login(registry.host(), "publisher:not-it");
    const std::string image = registry.host() + "/team/app:v1";
    const ProcessResult sign = trust(registry, {"sign", image});
    EXPECT_TRUE(failed_with_one_line(sign, 1));
    EXPECT_NE(sign.err.find(registry.token_server()->realm()), std::string::npos) << sign.err;
    EXPECT_NE(sign.err.find("401"), std::string::npos) << sign.err;
    EXPECT_NE(sign.err.find(image), std::string::npos) << sign.err;
    // Nothing was published: the repository does not exist on the notary server.
    const ProcessResult list =
        m_notary.run_notary(m_work / "notary-check", {"list", registry.host() + "/team/app"});
    EXPECT_NE(list.exit_code, 0) << describe(list);
}

// 127.0.0.0/8 is insecure by default, as in docker's daemon: HTTPS without checking the
// certificate (then plain HTTP), so a loopback HTTPS registry's digest resolves without its
// CA anywhere. The CAs of /etc/docker/certs.d for secure registries: RegistryClientTlsTest.
TEST_F(TrustRegistryTest, SignReachesALoopbackHttpsRegistryAsDockerDoes) {
    RegistryServer::Options options;
    options.tls = true;
    RegistryServer registry(options);
    const PushedImage pushed = registry.push_image("secure/app", "1.0");
    const std::string image = registry.host() + "/secure/app:1.0";
    ASSERT_FALSE(fs::exists(fs::path("/etc/docker/certs.d") / registry.host()));

    const ProcessResult sign = trust(registry, {"sign", image});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(sign.out.find("Successfully signed " + image), std::string::npos) << sign.out;
    const std::string line = listed(registry.host() + "/secure/app", "1.0");
    EXPECT_NE(line.find(pushed.digest.substr(7)), std::string::npos) << line;
}

} // namespace
} // namespace trustkey::test
