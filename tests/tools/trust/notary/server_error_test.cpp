// Parsing notary-server's error bodies into one-line messages.
#include "tools/trust/notary/server_error.h"

#include <gtest/gtest.h>

namespace trustkey::notary {
namespace {

TEST(ServerError, ParsesCodeMessageAndInvalidUpdateDetail) {
    const auto e = parse_server_error(
        R"({"errors":[{"code":"INVALID_UPDATE","message":"update submitted has invalid metadata",)"
        R"("detail":{"Name":"ErrBadRoot","Error":{"Msg":"root not signed"}}}]})");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->code, "INVALID_UPDATE");
    EXPECT_EQ(e->message, "update submitted has invalid metadata");
    EXPECT_EQ(e->detail_name, "ErrBadRoot");
    EXPECT_EQ(e->detail_message, "root not signed");
}

TEST(ServerError, OtherDetailIsKeptAsText) {
    const auto e = parse_server_error(R"({"errors":[{"code":"VERSION","message":"old","detail":"v 3"}]})");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->detail, "v 3");
    EXPECT_TRUE(e->detail_name.empty());
}

TEST(ServerError, EmptyDetailIsDropped) {
    // notary-server's VERSION error carries "detail":{}.
    const std::string body =
        R"({"errors":[{"code":"VERSION","message":"A newer version of metadata is already available.","detail":{}}]})";
    const auto e = parse_server_error(body);
    ASSERT_TRUE(e.has_value());
    EXPECT_TRUE(e->detail.empty());
    EXPECT_EQ(describe_failure("POST u", 400, body),
              "POST u: HTTP 400: VERSION: A newer version of metadata is already available.");
}

TEST(ServerError, NonErrorBodiesAreNotParsed) {
    for (const char* body : {"", "not json", "{}", R"({"errors":[]})", R"({"errors":{}})", R"({"errors":[{}]})",
                             R"({"errors":[{"code":7}]})", "[1,2]"})
        EXPECT_FALSE(parse_server_error(body).has_value()) << body;
}

TEST(ServerError, DescribeIsOneLineWithStatusCodeAndDetail) {
    const std::string line = describe_failure(
        "POST https://n/v2/g/_trust/tuf/", 400,
        R"({"errors":[{"code":"INVALID_UPDATE","message":"bad\nupdate","detail":{"Name":"ErrBadRoot","Error":{"Msg":"m"}}}]})");
    EXPECT_EQ(line, "POST https://n/v2/g/_trust/tuf/: HTTP 400: INVALID_UPDATE: bad update (ErrBadRoot: m)");

    const std::string plain = describe_failure("GET u", 502, "<html>\r\nBad gateway</html>");
    EXPECT_EQ(plain, "GET u: HTTP 502: <html>  Bad gateway</html>");
    EXPECT_EQ(plain.find('\n'), std::string::npos);

    const std::string long_body(1000, 'x');
    EXPECT_LT(describe_failure("GET u", 500, long_body).size(), 300u);
    EXPECT_EQ(describe_failure("GET u", 503, ""), "GET u: HTTP 503");
}

} // namespace
} // namespace trustkey::notary
