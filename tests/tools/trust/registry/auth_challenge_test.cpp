#include "tools/trust/registry/auth_challenge.h"

#include <gtest/gtest.h>

namespace trustkey::registry {
namespace {

TEST(AuthChallengeTest, ParsesBearerWithQuotedParams) {
    const auto c = AuthChallenge::parse(
        R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].scheme, "bearer");
    EXPECT_EQ(c[0].param("realm"), "https://auth.example/token");
    EXPECT_EQ(c[0].param("service"), "registry.example");
    EXPECT_EQ(c[0].param("scope"), "repository:a/b:pull,push");
    EXPECT_EQ(c[0].param("error"), std::nullopt);
}

TEST(AuthChallengeTest, ParsesBasicCaseInsensitivelyWithEscapes) {
    const auto c = AuthChallenge::parse(R"(BASIC Realm="my \"reg\"")");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].scheme, "basic");
    EXPECT_EQ(c[0].param("realm"), "my \"reg\"");
}

TEST(AuthChallengeTest, ParsesSeveralChallengesAndTokenValues) {
    const auto c = AuthChallenge::parse(R"(Basic realm="r1", Bearer realm=x , service = "s" ,error=invalid_token)");
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].scheme, "basic");
    EXPECT_EQ(c[0].param("realm"), "r1");
    EXPECT_EQ(c[1].scheme, "bearer");
    EXPECT_EQ(c[1].param("realm"), "x");
    EXPECT_EQ(c[1].param("service"), "s");
    EXPECT_EQ(c[1].param("error"), "invalid_token");
}

TEST(AuthChallengeTest, ToleratesGarbage) {
    EXPECT_TRUE(AuthChallenge::parse("").empty());
    EXPECT_TRUE(AuthChallenge::parse("   ,, ").empty());
    const auto unterminated = AuthChallenge::parse(R"(Bearer realm="abc)");
    ASSERT_EQ(unterminated.size(), 1u);
    EXPECT_EQ(unterminated[0].param("realm"), std::nullopt);
    const auto bare = AuthChallenge::parse("Negotiate");
    ASSERT_EQ(bare.size(), 1u);
    EXPECT_EQ(bare[0].scheme, "negotiate");
    EXPECT_TRUE(bare[0].params.empty());
}

} // namespace
} // namespace trustkey::registry
