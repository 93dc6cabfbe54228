#include "lib/core/log.h"

#include <gtest/gtest.h>

namespace trustkey {
namespace {

TEST(LogQuoted, PlainText) { EXPECT_EQ(log::quoted("alice"), "\"alice\""); }

TEST(LogQuoted, EscapesQuotesAndBackslashes) {
    EXPECT_EQ(log::quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

TEST(LogQuoted, CannotForgeLinesOrFields) {
    std::string q = log::quoted("x\nop=sign key_id=1\r\x1b[0m\x7f");
    EXPECT_EQ(q, "\"x\\x0aop=sign key_id=1\\x0d\\x1b[0m\\x7f\"");
    EXPECT_EQ(q.find('\n'), std::string::npos);
}

TEST(LogQuoted, EmptyAndUtf8) {
    EXPECT_EQ(log::quoted(""), "\"\"");
    EXPECT_EQ(log::quoted("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(LogLevel, Validates) {
    EXPECT_TRUE(log::valid_level("debug"));
    EXPECT_TRUE(log::valid_level("off"));
    EXPECT_FALSE(log::valid_level("verbose"));
    EXPECT_FALSE(log::valid_level(""));
}

} // namespace
} // namespace trustkey
