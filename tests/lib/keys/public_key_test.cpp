#include "lib/keys/public_key.h"

#include <gtest/gtest.h>

#include "lib/core/error.h"
#include "tests/lib/keys/openssl_cli.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::keys {
namespace {

using test::must_run;
using test::shell_quote;

struct Case {
    const char* kind;
    KeyType type;
    const char* tuf_type;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.kind; }

class PublicKeyTest : public ::testing::TestWithParam<Case> {
protected:
    test::TempDir dir;
};

TEST_P(PublicKeyTest, KeyIdMatchesIndependentComputation) {
    const Case& c = GetParam();
    auto pem_path = dir / "key.pem";
    test::generate_pem(c.kind, pem_path);
    Bytes spki = test::cli_spki_der(pem_path);
    EXPECT_EQ(key_type_of_spki(spki), c.type);
    std::string expected = test::cli_key_id(pem_path, false, c.tuf_type);
    ASSERT_EQ(expected.size(), 64u);
    EXPECT_EQ(tuf_key_id(c.type, spki), expected);
    // The PEM form is what `openssl pkey -pubout` writes.
    EXPECT_EQ(spki_to_pem(spki), must_run("openssl pkey -in " + shell_quote(pem_path.string()) + " -pubout"));
}

TEST_P(PublicKeyTest, VerifiesSignaturesMadeByOpensslCli) {
    const Case& c = GetParam();
    auto pem = dir / "key.pem", msg = dir / "msg", sig = dir / "sig";
    test::generate_pem(c.kind, pem);
    std::string message = "{\"signed\":\"payload\"}";
    test::write_bytes(msg, as_bytes(message));
    Bytes digest = sha256(as_bytes(message));
    Bytes spki = test::cli_spki_der(pem);
    std::string k = shell_quote(pem.string()), m = shell_quote(msg.string()), s = shell_quote(sig.string());
    Bytes signature;
    if (c.type == KeyType::ed25519) {
        must_run("openssl pkeyutl -sign -rawin -inkey " + k + " -in " + m + " -out " + s);
        std::string raw = test::read_text(sig);
        signature.assign(raw.begin(), raw.end());
        EXPECT_TRUE(verify_signature(c.type, spki, HashAlg::none, as_bytes(message), signature));
        EXPECT_FALSE(verify_signature(c.type, spki, HashAlg::none, as_bytes(message + " "), signature));
    } else if (c.type == KeyType::ecdsa_p256) {
        // The CLI writes DER; turn it into raw r||s with the asn1parse output.
        must_run("openssl dgst -sha256 -sign " + k + " -out " + s + " " + m);
        std::string parsed = must_run("openssl asn1parse -inform DER -in " + s);
        std::vector<std::string> ints;
        std::size_t pos = 0;
        while ((pos = parsed.find("INTEGER", pos)) != std::string::npos) {
            std::size_t colon = parsed.find(':', pos);
            std::size_t end = parsed.find('\n', colon);
            ints.push_back(parsed.substr(colon + 1, end - colon - 1));
            pos = end;
        }
        ASSERT_EQ(ints.size(), 2u) << parsed;
        for (auto& h : ints) {
            while (h.size() < 64) h = "0" + h;
            auto b = from_hex(h);
            ASSERT_TRUE(b.has_value()) << h;
            signature.insert(signature.end(), b->begin(), b->end());
        }
        ASSERT_EQ(signature.size(), 64u);
        EXPECT_TRUE(verify_signature(c.type, spki, HashAlg::sha256, digest, signature));
        signature[10] ^= 1;
        EXPECT_FALSE(verify_signature(c.type, spki, HashAlg::sha256, digest, signature));
    } else {
        must_run("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt "
                 "rsa_mgf1_md:sha256 -sign " + k + " -out " + s + " " + m);
        std::string raw = test::read_text(sig);
        signature.assign(raw.begin(), raw.end());
        EXPECT_TRUE(verify_signature(c.type, spki, HashAlg::sha256, digest, signature));
        EXPECT_FALSE(verify_signature(c.type, spki, HashAlg::none, digest, signature));
        digest[0] ^= 1;
        EXPECT_FALSE(verify_signature(c.type, spki, HashAlg::sha256, digest, signature));
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, PublicKeyTest,
                         ::testing::Values(Case{"ecdsa", KeyType::ecdsa_p256, "ecdsa"},
                                           Case{"rsa", KeyType::rsa_2048, "rsa"},
                                           Case{"ed25519", KeyType::ed25519, "ed25519"}),
                         [](const auto& info) { return std::string(info.param.kind); });

TEST(PublicKey, FixedVectorEd25519) {
    // RFC 8032 test 1 public key; key id from printf | sha256sum on the canonical JSON.
    Bytes spki = *from_hex("302a300506032b6570032100d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    std::string json = tuf_key_json(KeyType::ed25519, spki);
    EXPECT_EQ(json, "{\"keytype\":\"ed25519\",\"keyval\":{\"private\":null,\"public\":\""
                    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"}}");
    EXPECT_EQ(tuf_key_id(KeyType::ed25519, spki), "4297585c0fe23f11d05ccfdfe00ddc1543e428febcd6de32ddeb1d5cf16942b6");
}

TEST(PublicKey, RejectsGarbageSpki) {
    Bytes junk{0x30, 0x03, 0x02, 0x01, 0x00};
    try {
        key_type_of_spki(junk);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::bad_key_format);
    }
}

TEST(PublicKeyErrors, AnSpkiOpensslCannotReadIsAnOpensslError) {
    const Bytes garbage{0x30, 0x03, 0x02, 0x01, 0x00};
    try {
        key_type_of_spki(garbage);
        FAIL() << "garbage was read as a key";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::bad_key_format);
        EXPECT_EQ(e.domain(), ErrorDomain::openssl);
        EXPECT_EQ(e.call(), "d2i_PUBKEY");
    }
}

} // namespace
} // namespace trustkey::keys
