#include "tools/trust/registry/reference.h"

#include <gtest/gtest.h>

#include "lib/core/error.h"

namespace trustkey::registry {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

struct Good {
    std::string text;
    std::string registry;
    std::string repository;
    std::string tag;
    std::string digest;
    std::string api_host;
};

TEST(ReferenceTest, ParsesAndNormalisesTable) {
    const std::vector<Good> table = {
        {"ubuntu", "docker.io", "library/ubuntu", "latest", "", "registry-1.docker.io"},
        {"ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", "", "registry-1.docker.io"},
        {"docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", "", "registry-1.docker.io"},
        {"index.docker.io/library/ubuntu:x", "docker.io", "library/ubuntu", "x", "", "registry-1.docker.io"},
        {"team/app:v1", "docker.io", "team/app", "v1", "", "registry-1.docker.io"},
        {"localhost/app", "localhost", "app", "latest", "", "localhost"},
        {"localhost:5000/a/b/c:T_1-x.y", "localhost:5000", "a/b/c", "T_1-x.y", "", "localhost:5000"},
        {"127.0.0.1:5000/app:1", "127.0.0.1:5000", "app", "1", "", "127.0.0.1:5000"},
        {"ghcr.io/org/my-app__x.y", "ghcr.io", "org/my-app__x.y", "latest", "", "ghcr.io"},
        {"Registry/app", "Registry", "app", "latest", "", "Registry"},
        {"[::1]:5000/app:v", "[::1]:5000", "app", "v", "", "[::1]:5000"},
        {"app@" + kDigest, "docker.io", "library/app", "", kDigest, "registry-1.docker.io"},
        {"host:1/app:v2@" + kDigest, "host:1", "app", "v2", kDigest, "host:1"},
    };
    for (const auto& g : table) {
        SCOPED_TRACE(g.text);
        const Reference r = Reference::parse(g.text);
        EXPECT_EQ(r.registry, g.registry);
        EXPECT_EQ(r.repository, g.repository);
        EXPECT_EQ(r.tag, g.tag);
        EXPECT_EQ(r.digest, g.digest);
        EXPECT_EQ(r.api_host(), g.api_host);
        EXPECT_EQ(r.manifest_ref(), g.digest.empty() ? g.tag : g.digest);
    }
}

TEST(ReferenceTest, StrIsTheNormalisedForm) {
    EXPECT_EQ(Reference::parse("ubuntu").str(), "docker.io/library/ubuntu:latest");
    EXPECT_EQ(Reference::parse("h:5/a@" + kDigest).str(), "h:5/a@" + kDigest);
    EXPECT_EQ(Reference::parse(Reference::parse("x/y:z").str()).str(), "docker.io/x/y:z");
}

TEST(ReferenceTest, RejectsBadReferencesWithTheirText) {
    const std::vector<std::pair<std::string, std::string>> table = {
        {"", "empty"},
        {"Ubuntu", "not valid"},
        {"app:", "tag"},
        {"app:-x", "tag"},
        {"app:" + std::string(129, 'a'), "tag"},
        {"a//b", "not valid"},
        {"a/b/", "not valid"},
        {"a..b", "not valid"},
        {"a_-b", "not valid"},
        {"host:5000/", "empty"},
        {"host:port/app", "registry host"},
        {"-h.com/app", "registry host"},
        {"app@sha256:abc", "64"},
        {"app@sha256:" + std::string(64, 'A'), "64"},
        {"app@md5:" + std::string(32, 'a'), "sha256"},
        {"app@" + std::string(64, 'a'), "ALGORITHM:HEX"},
        {"app:v1:v2", "not valid"},
        {"app b", "not valid"},
    };
    for (const auto& [text, why] : table) {
        SCOPED_TRACE(text);
        try {
            Reference::parse(text);
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.errc(), Errc::invalid_argument);
            const std::string msg = e.what();
            EXPECT_NE(msg.find("\"" + text + "\""), std::string::npos) << msg;
            EXPECT_NE(msg.find(why), std::string::npos) << msg;
        }
    }
}

} // namespace
} // namespace trustkey::registry
