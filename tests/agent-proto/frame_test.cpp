#include "trustkey/proto/frame.h"

#include <array>

#include <gtest/gtest.h>

namespace trustkey::proto {
namespace {

std::optional<std::uint32_t> header(std::uint32_t n, std::size_t max = kDefaultMaxFrame) {
    const std::array<std::uint8_t, 4> h{static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                        static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
    return parse_frame_header(std::span<const std::uint8_t, 4>(h), max);
}

TEST(FrameHeader, ZeroLengthIsRefused) { EXPECT_FALSE(header(0).has_value()); }

TEST(FrameHeader, OneByteIsAccepted) { EXPECT_EQ(header(1), std::optional<std::uint32_t>(1)); }

TEST(FrameHeader, MaximumIsAccepted) {
    EXPECT_EQ(header(65536), std::optional<std::uint32_t>(65536));
}

TEST(FrameHeader, OneAboveMaximumIsRefused) { EXPECT_FALSE(header(65537).has_value()); }

TEST(FrameHeader, AllOnesIsRefused) { EXPECT_FALSE(header(0xFFFFFFFFu).has_value()); }

TEST(FrameHeader, ReadsBigEndian) {
    EXPECT_EQ(header(0x00010203u, 0x00FFFFFF), std::optional<std::uint32_t>(0x00010203u));
    EXPECT_EQ(header(0x00000100u), std::optional<std::uint32_t>(256));
}

TEST(FrameHeader, HonoursSmallerLimit) {
    EXPECT_EQ(header(100, 100), std::optional<std::uint32_t>(100));
    EXPECT_FALSE(header(101, 100).has_value());
}

TEST(FrameEncode, LayoutIsLengthVersionMessage) {
    const std::vector<std::uint8_t> msg{0xAA, 0xBB, 0xCC};
    const auto frame = encode_frame(7, msg);
    const std::vector<std::uint8_t> want{0, 0, 0, 4, 7, 0xAA, 0xBB, 0xCC};
    EXPECT_EQ(frame, want);
}

TEST(FrameEncode, EmptyMessageStillCarriesVersion) {
    const auto frame = encode_frame(1, {});
    const std::vector<std::uint8_t> want{0, 0, 0, 1, 1};
    EXPECT_EQ(frame, want);
}

TEST(FrameEncode, LargeLengthUsesAllHeaderBytes) {
    const std::vector<std::uint8_t> msg(0x1234, 0x5A);
    const auto frame = encode_frame(1, msg);
    ASSERT_EQ(frame.size(), 4u + 1u + 0x1234u);
    EXPECT_EQ(frame[0], 0);
    EXPECT_EQ(frame[1], 0);
    EXPECT_EQ(frame[2], 0x12);
    EXPECT_EQ(frame[3], 0x35);
}

TEST(FrameBodySplit, EmptyBodyIsRefused) { EXPECT_FALSE(split_frame_body({}).has_value()); }

TEST(FrameBodySplit, VersionOnly) {
    const std::vector<std::uint8_t> body{3};
    const auto fb = split_frame_body(body);
    ASSERT_TRUE(fb.has_value());
    EXPECT_EQ(fb->version, 3);
    EXPECT_TRUE(fb->message.empty());
}

TEST(FrameBodySplit, RoundTripThroughHeader) {
    const std::vector<std::uint8_t> msg{1, 2, 3, 4, 5};
    const auto frame = encode_frame(1, msg);
    const auto len = parse_frame_header(std::span<const std::uint8_t, 4>(frame.data(), 4));
    ASSERT_TRUE(len.has_value());
    ASSERT_EQ(*len, frame.size() - 4);
    const auto fb = split_frame_body(std::span<const std::uint8_t>(frame).subspan(4, *len));
    ASSERT_TRUE(fb.has_value());
    EXPECT_EQ(fb->version, 1);
    EXPECT_EQ(std::vector<std::uint8_t>(fb->message.begin(), fb->message.end()), msg);
}

} // namespace
} // namespace trustkey::proto
