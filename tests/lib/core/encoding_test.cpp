#include "lib/core/encoding.h"

#include <gtest/gtest.h>

namespace trustkey {
namespace {

TEST(Hex, EncodesLowerCase) {
    Bytes b{0x00, 0x0f, 0xab, 0xff};
    EXPECT_EQ(to_hex(b), "000fabff");
    EXPECT_EQ(to_hex(Bytes{}), "");
}

TEST(Hex, DecodesBothCases) {
    EXPECT_EQ(from_hex("000FabfF"), (Bytes{0x00, 0x0f, 0xab, 0xff}));
    EXPECT_EQ(from_hex(""), Bytes{});
}

TEST(Hex, RejectsOddLengthAndNonHex) {
    EXPECT_FALSE(from_hex("abc").has_value());
    EXPECT_FALSE(from_hex("zz").has_value());
    EXPECT_FALSE(from_hex("0g").has_value());
    EXPECT_FALSE(from_hex(" 0").has_value());
    EXPECT_TRUE(is_hex("deadBEEF"));
    EXPECT_FALSE(is_hex("dead-beef"));
}

TEST(Base64, KnownVectors) {
    // RFC 4648 section 10.
    EXPECT_EQ(to_base64(as_bytes("")), "");
    EXPECT_EQ(to_base64(as_bytes("f")), "Zg==");
    EXPECT_EQ(to_base64(as_bytes("fo")), "Zm8=");
    EXPECT_EQ(to_base64(as_bytes("foo")), "Zm9v");
    EXPECT_EQ(to_base64(as_bytes("foobar")), "Zm9vYmFy");
    EXPECT_EQ(to_base64(Bytes{0xfb, 0xff}), "+/8=");
}

TEST(Base64, DecodesWithPadding) {
    auto check = [](std::string_view b64, std::string_view plain) {
        auto out = from_base64(b64);
        ASSERT_TRUE(out.has_value()) << b64;
        EXPECT_EQ(std::string(out->begin(), out->end()), plain);
    };
    check("", "");
    check("Zg==", "f");
    check("Zm8=", "fo");
    check("Zm9vYmFy", "foobar");
    EXPECT_EQ(from_base64("+/8="), (Bytes{0xfb, 0xff}));
}

TEST(Base64, IsStrict) {
    EXPECT_FALSE(from_base64("Zg").has_value());        // missing padding
    EXPECT_FALSE(from_base64("Zg=").has_value());       // wrong length
    EXPECT_FALSE(from_base64("Zm9v\n").has_value());    // whitespace
    EXPECT_FALSE(from_base64("Zm 9").has_value());
    EXPECT_FALSE(from_base64("Z=g=").has_value());      // padding in the middle
    EXPECT_FALSE(from_base64("=Zg=").has_value());
    EXPECT_FALSE(from_base64("Zm-_").has_value());      // URL alphabet
    EXPECT_FALSE(from_base64("Zg=a").has_value());
}

TEST(Base64, RoundTripsAllByteValues) {
    Bytes all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
    for (std::size_t len = 0; len < 8; ++len) {
        Bytes part(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_EQ(from_base64(to_base64(part)), part);
    }
    EXPECT_EQ(from_base64(to_base64(all)), all);
}

TEST(Sha256, KnownVectors) {
    EXPECT_EQ(to_hex(sha256(as_bytes(""))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(to_hex(sha256(as_bytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

} // namespace
} // namespace trustkey
