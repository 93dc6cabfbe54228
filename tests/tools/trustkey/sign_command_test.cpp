// trustkey sign --digest / --file against a real trustkeyd; every signature is
// checked with the openssl program, one test per key type.
#include <gtest/gtest.h>

#include <regex>

#include "lib/core/encoding.h"
#include "tests/tools/trustkey/cli_expect.h"
#include "tests/tools/trustkey/openssl_check.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {
namespace {

const std::regex kBase64Line("^[A-Za-z0-9+/]+={0,2}\n$");

std::size_t signature_length(const std::string& type) {
    if (type == "rsa") return 256;
    if (type == "rsa4096") return 512;
    return 64;
}

// The signature from a successful sign run: one base64 line and nothing else.
ByteVec signature_of(const ProcessResult& r) {
    EXPECT_TRUE(succeeded(r));
    EXPECT_TRUE(std::regex_match(r.out, kBase64Line)) << r.out;
    return base64_decode(chomp(r.out));
}

class Sign : public ::testing::TestWithParam<std::string> {};

TEST_P(Sign, DigestAndFileSignaturesVerifyWithOpenssl) {
    const std::string type = GetParam();
    const bool eddsa = type == "ed25519";
    CliDaemon daemon;
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "signer", "--type", type})));
    const auto pem_file = daemon.dir() / "signer.pem";
    write_file(pem_file, daemon.trustkey({"key", "public", "signer"}).out);

    // --digest: a SHA-256 digest (ecdsa, rsa) or, with --hash none, the message (ed25519).
    const std::string message = R"({"_type":"Targets","version":1})";
    const ByteVec data = eddsa ? to_bytes(message) : sha256_bytes(message);
    std::vector<std::string> args{"sign", "signer", "--digest", to_hex(data)};
    if (eddsa) args.insert(args.end(), {"--hash", "none"});
    const ByteVec sig = signature_of(daemon.trustkey(args));
    ASSERT_EQ(sig.size(), signature_length(type));
    EXPECT_TRUE(openssl_verify(type, pem_file, data, sig, daemon.dir()));

    // The check can fail: a changed signature or other data is refused.
    ByteVec bad = sig;
    bad[bad.size() / 2] ^= 0x01;
    EXPECT_FALSE(openssl_verify(type, pem_file, data, bad, daemon.dir()));
    EXPECT_FALSE(openssl_verify(type, pem_file, eddsa ? to_bytes("other") : sha256_bytes("other"), sig, daemon.dir()));

    // --file: hashed by the CLI for ecdsa/rsa, sent whole for ed25519.
    const std::string content = "a file to sign\n" + std::string(3000, 'x');
    const auto file = daemon.dir() / "payload.json";
    write_file(file, content);
    const ByteVec file_sig = signature_of(daemon.trustkey({"sign", "signer", "--file", file.string()}));
    EXPECT_TRUE(openssl_verify(type, pem_file, eddsa ? to_bytes(content) : sha256_bytes(content), file_sig,
                               daemon.dir()));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Sign, ::testing::Values("ecdsa", "rsa", "rsa4096", "ed25519"),
                         [](const auto& info) { return info.param; });

TEST(SignErrors, WrongDigestLengthFailsWithOneLine) {
    CliDaemon daemon;
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "k"})));
    const auto r = daemon.trustkey({"sign", "k", "--digest", "abcd"});
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_NE(r.err.find("digest"), std::string::npos) << r.err;
}

TEST(SignErrors, NonHexDigestIsAUsageError) {
    CliDaemon daemon;
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "k"})));
    EXPECT_TRUE(failed_with_one_line(daemon.trustkey({"sign", "k", "--digest", "xyz"}), 2));
    EXPECT_TRUE(failed_with_one_line(daemon.trustkey({"sign", "k", "--digest", "abc"}), 2));
}

TEST(SignErrors, DigestAndFileTogetherOrNeitherIsAUsageError) {
    CliDaemon daemon;
    const auto file = daemon.dir() / "f";
    write_file(file, std::string("x"));
    EXPECT_TRUE(failed_with_one_line(daemon.trustkey({"sign", "k"}), 2));
    EXPECT_TRUE(failed_with_one_line(
        daemon.trustkey({"sign", "k", "--digest", std::string(64, 'a'), "--file", file.string()}), 2));
}

TEST(SignErrors, MissingFileFailsWithOneLine) {
    CliDaemon daemon;
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "k"})));
    const auto r = daemon.trustkey({"sign", "k", "--file", (daemon.dir() / "absent").string()});
    EXPECT_TRUE(failed_with_one_line(r, 1));
}

TEST(SignFile, LargeFileIsHashedLocallyForEcdsaButTooLargeForEd25519) {
    CliDaemon daemon;
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "ec"})));
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "ed", "--type", "ed25519"})));
    const std::string big(256 * 1024, 'z');  // larger than one protocol frame
    const auto file = daemon.dir() / "big";
    write_file(file, big);
    const auto pem_file = daemon.dir() / "ec.pem";
    write_file(pem_file, daemon.trustkey({"key", "public", "ec"}).out);
    const ByteVec sig = signature_of(daemon.trustkey({"sign", "ec", "--file", file.string()}));
    EXPECT_TRUE(openssl_verify("ecdsa", pem_file, sha256_bytes(big), sig, daemon.dir()));

    const auto r = daemon.trustkey({"sign", "ed", "--file", file.string()});
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_NE(r.err.find("larger than"), std::string::npos) << r.err;
}

TEST(SignErrors, UnknownKeyNamesTheReference) {
    CliDaemon daemon;
    const auto r = daemon.trustkey({"sign", "abc1234", "--digest", std::string(64, 'a')});
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_EQ(r.err, "trustkey: unknown key 'abc1234'\n");
}

} // namespace
} // namespace trustkey::test
