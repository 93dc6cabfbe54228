#include "lib/core/rate_limited_log.h"

#include <gtest/gtest.h>

namespace trustkey {
namespace {

using namespace std::chrono_literals;

TEST(RateLimit, OneLinePerIntervalThenTheCountOfThoseLeftOut) {
    RateLimit limit(1000ms);
    const auto t0 = RateLimit::Clock::time_point{} + 1h;
    ASSERT_EQ(limit.admit(t0), std::optional<std::uint64_t>(0));
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(limit.admit(t0 + 100ms * i));
    EXPECT_FALSE(limit.admit(t0 + 999ms));
    EXPECT_EQ(limit.admit(t0 + 1000ms), std::optional<std::uint64_t>(6));
    // The count starts again after a line is written.
    EXPECT_FALSE(limit.admit(t0 + 1500ms));
    EXPECT_EQ(limit.admit(t0 + 2500ms), std::optional<std::uint64_t>(1));
    EXPECT_EQ(limit.admit(t0 + 10s), std::optional<std::uint64_t>(0));
}

TEST(RateLimit, AMillionRepeatsInOneIntervalWriteOneLine) {
    RateLimit limit(250ms);
    const auto t0 = RateLimit::Clock::time_point{} + 1h;
    int written = 0;
    for (int i = 0; i < 1'000'000; ++i)
        if (limit.admit(t0 + std::chrono::nanoseconds(i))) ++written;
    EXPECT_EQ(written, 1);
    EXPECT_EQ(limit.admit(t0 + 250ms), std::optional<std::uint64_t>(999'999));
}

} // namespace
} // namespace trustkey
