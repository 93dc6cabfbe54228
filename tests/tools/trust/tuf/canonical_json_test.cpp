#include "tools/trust/tuf/canonical_json.h"

#include <gtest/gtest.h>

#include "lib/core/error.h"

namespace trustkey::tuf {
namespace {

using nlohmann::json;

void expect_refused(const json& v, const std::string& needle) {
    try {
        canonical_json(v);
        ADD_FAILURE() << "accepted " << v.dump();
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(CanonicalJson, SortsKeysByBytes) {
    // Upper case sorts before '_' and lower case; multi-byte UTF-8 (0xC3…) after ASCII.
    json v = json::parse("{\"b\":1,\"a\":2,\"B\":3,\"_\":4,\"\xc3\xa9\":5,\"Z\":6,\"aa\":7,\"\xc3\x80\":8}");
    EXPECT_EQ(canonical_json(v), "{\"B\":3,\"Z\":6,\"_\":4,\"a\":2,\"aa\":7,\"b\":1,\"\xc3\x80\":8,\"\xc3\xa9\":5}");
}

TEST(CanonicalJson, NestedValuesWithoutWhitespaceArraysKeepOrder) {
    json v = json::parse(R"({ "z" : [3, 1, {"y": true, "x": null}], "a": {}, "m": [], "f": false })");
    EXPECT_EQ(canonical_json(v), R"({"a":{},"f":false,"m":[],"z":[3,1,{"x":null,"y":true}]})");
}

TEST(CanonicalJson, EscapesOnlyQuoteAndBackslash) {
    json v = std::string("a\"b\\c</>&\xc3\xa9\xe2\x80\xa8/\x7f");
    EXPECT_EQ(canonical_json(v), "\"a\\\"b\\\\c</>&\xc3\xa9\xe2\x80\xa8/\x7f\"");
    json key = json::object({{"k\"ey", "v"}});
    EXPECT_EQ(canonical_json(key), "{\"k\\\"ey\":\"v\"}");
}

TEST(CanonicalJson, IntegersBelowTwoToThe53) {
    json v = json::array({0, -5, 42, 9007199254740991LL, -9007199254740991LL});
    EXPECT_EQ(canonical_json(v), "[0,-5,42,9007199254740991,-9007199254740991]");
}

TEST(CanonicalJson, RefusesFloatsAndLargeNumbers) {
    expect_refused(json::parse("1.5"), "fractional");
    expect_refused(json::parse("{\"a\":1.0}"), "fractional");
    expect_refused(json::parse("1e3"), "fractional");
    expect_refused(json(9007199254740992ULL), "too large");
    expect_refused(json(-9007199254740992LL), "too large");
    expect_refused(json::parse("[18446744073709551615]"), "too large");
}

TEST(CanonicalJson, RefusesControlBytesAndBadUtf8) {
    expect_refused(json("a\nb"), "control byte 10");
    expect_refused(json::object({{std::string("k\x01"), 1}}), "control byte 1");
    expect_refused(json(std::string("\xff")), "UTF-8");
    expect_refused(json(std::string("\xc0\xaf")), "UTF-8");         // overlong '/'
    expect_refused(json(std::string("\xed\xa0\x80")), "UTF-8");     // a surrogate
    expect_refused(json(std::string("\xe2\x82")), "UTF-8");         // truncated
}

TEST(CanonicalJson, ParseJsonNamesWhatFailed) {
    try {
        parse_json("{\"a\":", "root metadata");
        FAIL() << "accepted truncated JSON";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::malformed);
        EXPECT_NE(std::string(e.what()).find("root metadata"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_json("\"\xff\"", "x"), Error);
}

TEST(FileForm, EscapesHtmlAndLineSeparatorsLikeGo) {
    json body = json::object({{"t", std::string("<a&b>\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9")}, {"_type", "Targets"}});
    std::string canonical = canonical_json(body);
    EXPECT_EQ(canonical, "{\"_type\":\"Targets\",\"t\":\"<a&b>\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\"}");
    std::vector<Signature> sigs{{"ab12", "ecdsa", Bytes{0x01, 0x02, 0xff}}, {"cd34", "eddsa", Bytes{0x00}}};
    EXPECT_EQ(file_form(canonical, sigs),
              "{\"signed\":{\"_type\":\"Targets\",\"t\":\"\\u003ca\\u0026b\\u003e\\u2028\\u2029\xc3\xa9\"},"
              "\"signatures\":[{\"keyid\":\"ab12\",\"method\":\"ecdsa\",\"sig\":\"AQL/\"},"
              "{\"keyid\":\"cd34\",\"method\":\"eddsa\",\"sig\":\"AA==\"}]}");
    EXPECT_EQ(file_form("{}", {}), "{\"signed\":{},\"signatures\":[]}");
}

} // namespace
} // namespace trustkey::tuf
