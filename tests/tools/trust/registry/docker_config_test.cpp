#include "tools/trust/registry/docker_config.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::registry {
namespace {

namespace fs = std::filesystem;

std::string b64(const std::string& s) { return to_base64(as_bytes(s)); }

void write(const fs::path& p, const std::string& text) {
    std::ofstream out(p);
    out << text;
}

std::string password_of(const Credentials& c) { return std::string(as_string_view(c.password)); }

TEST(DockerConfigTest, NormalisesServerSpellings) {
    EXPECT_EQ(DockerConfig::normalise_server("https://index.docker.io/v1/"), "docker.io");
    EXPECT_EQ(DockerConfig::normalise_server("registry-1.docker.io"), "docker.io");
    EXPECT_EQ(DockerConfig::normalise_server("http://Host:5000/v2/"), "host:5000");
    EXPECT_EQ(DockerConfig::normalise_server("127.0.0.1:5000"), "127.0.0.1:5000");
}

TEST(DockerConfigTest, DecodesAuthsEntries) {
    const DockerConfig c = DockerConfig::parse(
        R"({"auths":{"https://index.docker.io/v1/":{"auth":")" + b64("hub:pw:with:colons") +
            R"("},"localhost:5000":{"auth":")" + b64("bob:") + R"("},"old.example":{"username":"u","password":"p"},
            "tok.example":{"identitytoken":"refresh-1"}}})",
        "test");
    const auto hub = c.credentials_for("docker.io");
    ASSERT_TRUE(hub);
    EXPECT_EQ(hub->username, "hub");
    EXPECT_EQ(password_of(*hub), "pw:with:colons");
    const auto local = c.credentials_for("localhost:5000");
    ASSERT_TRUE(local);
    EXPECT_EQ(local->username, "bob");
    EXPECT_EQ(password_of(*local), "");
    const auto old = c.credentials_for("old.example");
    ASSERT_TRUE(old);
    EXPECT_EQ(old->username, "u");
    EXPECT_EQ(password_of(*old), "p");
    const auto tok = c.credentials_for("tok.example");
    ASSERT_TRUE(tok);
    EXPECT_EQ(std::string(as_string_view(tok->identity_token)), "refresh-1");
    EXPECT_FALSE(c.credentials_for("other.example"));
}

TEST(DockerConfigTest, RejectsMalformedFilesClearly) {
    const std::vector<std::pair<std::string, std::string>> table = {
        {"not json", "not valid JSON"},
        {"[]", "not a JSON object"},
        {R"({"auths":[]})", "\"auths\" is not an object"},
        {R"({"auths":{"h":{"auth":5}}})", "auths.h.auth is not a string"},
        {R"({"credHelpers":{"h":""}})", "credHelpers.h"},
    };
    for (const auto& [json, why] : table) {
        SCOPED_TRACE(json);
        try {
            DockerConfig::parse(json, "cfg.json");
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.errc(), Errc::config);
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
        }
    }
    const DockerConfig bad_b64 = DockerConfig::parse(R"({"auths":{"h":{"auth":"!!!"}}})", "cfg.json");
    EXPECT_THROW(bad_b64.credentials_for("h"), Error);
    const DockerConfig no_colon = DockerConfig::parse(R"({"auths":{"h":{"auth":")" + b64("nocolon") + "\"}}}",
                                                      "cfg.json");
    EXPECT_THROW(no_colon.credentials_for("h"), Error);
}

TEST(DockerConfigTest, LoadDefaultReadsDockerConfigDirectory) {
    test::TempDir dir("trustkey-dockercfg");
    ASSERT_EQ(::setenv("DOCKER_CONFIG", dir.path().c_str(), 1), 0);
    // No file: empty configuration.
    EXPECT_FALSE(DockerConfig::load_default().credentials_for("h:1"));
    write(dir / "config.json", R"({"auths":{"h:1":{"auth":")" + b64("carol:pw") + "\"}}}");
    const auto c = DockerConfig::load_default().credentials_for("h:1");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "carol");
    EXPECT_EQ(password_of(*c), "pw");
}

// A credential helper following docker's protocol, as a shell script on PATH.
class HelperTest : public ::testing::Test {
protected:
    void SetUp() override {
        write(m_dir / "docker-credential-fixture",
              "#!/bin/sh\n"
              "[ \"$1\" = get ] || exit 3\n"
              "read -r server\n"
              "echo \"$server\" >> '" + (m_dir / "asked").string() + "'\n"
              "case \"$server\" in\n"
              "  https://index.docker.io/v1/) echo '{\"ServerURL\":\"x\",\"Username\":\"hubuser\",\"Secret\":\"hubpw\"}';;\n"
              "  known:5000) echo '{\"ServerURL\":\"known:5000\",\"Username\":\"<token>\",\"Secret\":\"refresh\"}';;\n"
              "  broken:1) echo 'garbage';;\n"
              "  failing:1) echo 'backend exploded' >&2; exit 2;;\n"
              "  *) echo 'credentials not found in native keychain'; exit 1;;\n"
              "esac\n");
        ASSERT_EQ(::chmod((m_dir / "docker-credential-fixture").c_str(), 0755), 0);
        const char* path = std::getenv("PATH");
        const std::string new_path = m_dir.path().string() + ":" + (path ? path : "/usr/bin:/bin");
        ASSERT_EQ(::setenv("PATH", new_path.c_str(), 1), 0);
    }
    test::TempDir m_dir{"trustkey-helper"};
};

TEST_F(HelperTest, CredsStoreAnswersForEveryRegistry) {
    const DockerConfig c = DockerConfig::parse(R"({"credsStore":"fixture","auths":{"docker.io":{}}})", "cfg");
    const auto hub = c.credentials_for("docker.io");
    ASSERT_TRUE(hub);
    EXPECT_EQ(hub->username, "hubuser");
    EXPECT_EQ(password_of(*hub), "hubpw");
    const auto token = c.credentials_for("known:5000");
    ASSERT_TRUE(token);
    EXPECT_TRUE(token->username.empty());
    EXPECT_EQ(std::string(as_string_view(token->identity_token)), "refresh");
    EXPECT_FALSE(c.credentials_for("unknown:1"));
    std::ifstream asked(m_dir / "asked");
    std::string first;
    std::getline(asked, first);
    EXPECT_EQ(first, "https://index.docker.io/v1/");
}

TEST_F(HelperTest, CredHelpersOverrideAuthsAndFailuresAreClear) {
    const DockerConfig c = DockerConfig::parse(
        R"({"credHelpers":{"broken:1":"fixture","failing:1":"fixture","gone:1":"absent-helper-xyz"},
            "auths":{"broken:1":{"auth":")" + b64("a:b") + R"("},"plain:1":{"auth":")" + b64("a:b") + "\"}}}",
        "cfg");
    EXPECT_TRUE(c.credentials_for("plain:1"));
    for (const auto& [host, why] : std::vector<std::pair<std::string, std::string>>{
             {"broken:1", "no JSON object"}, {"failing:1", "backend exploded"}, {"gone:1", "absent-helper-xyz"}}) {
        SCOPED_TRACE(host);
        try {
            c.credentials_for(host);
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.errc(), Errc::config);
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
        }
    }
}

} // namespace
} // namespace trustkey::registry
