#include "tools/trust/tuf/key.h"

#include <gtest/gtest.h>

#include "lib/core/error.h"
#include "tests/lib/keys/openssl_cli.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trust/tuf/software_signer.h"

namespace trustkey::tuf {
namespace {

using test::must_run;
using test::shell_quote;

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// Id of a key JSON with `public` = base64 of the file, computed with the shell tools.
std::string cli_file_key_id(const std::filesystem::path& file, const std::string& keytype) {
    return trim(must_run("pub=$(base64 -w0 " + shell_quote(file.string()) + ") && printf '{\"keytype\":\"" + keytype +
                         "\",\"keyval\":{\"private\":null,\"public\":\"%s\"}}' \"$pub\" | sha256sum | cut -c1-64"));
}

struct Case {
    const char* kind;
    const char* keytype;
    const char* method;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.kind; }

class KeyIdTest : public ::testing::TestWithParam<Case> {
protected:
    test::TempDir dir;
};

TEST_P(KeyIdTest, IdMatchesIndependentComputation) {
    const Case& c = GetParam();
    test::SoftwareSigner signer(c.kind, dir.path());
    Key key = Key::from_spki(signer.spki_der());
    EXPECT_EQ(key.keytype(), c.keytype);
    std::string expected = test::cli_key_id(signer.pem_path(), false, c.keytype);
    ASSERT_EQ(expected.size(), 64u);
    EXPECT_EQ(key.id(), expected);
    EXPECT_EQ(key.canonical_id(), expected);
    EXPECT_EQ(key.signing_method(), c.method);
    // JSON round trip.
    Key back = Key::from_json(nlohmann::json::parse(key.canonical_json()));
    EXPECT_EQ(back, key);
    EXPECT_EQ(back.spki_der(), signer.spki_der());
}

TEST_P(KeyIdTest, VerifiesOwnSignaturesOnly) {
    const Case& c = GetParam();
    test::SoftwareSigner signer(c.kind, dir.path());
    Key key = signer.key();
    std::string message = R"({"_type":"Targets","version":1})";
    Bytes sig = signer.sign(as_bytes(message));
    EXPECT_TRUE(key.verify(c.method, as_bytes(message), sig));
    EXPECT_FALSE(key.verify(c.method, as_bytes(message + " "), sig));
    Bytes bad = sig;
    bad[bad.size() / 2] ^= 0x01;
    EXPECT_FALSE(key.verify(c.method, as_bytes(message), bad));
    EXPECT_FALSE(key.verify(std::string(c.method) == "eddsa" ? "ecdsa" : "eddsa", as_bytes(message), sig));
    EXPECT_FALSE(key.verify(c.method, as_bytes(message), Bytes{}));
    test::SoftwareSigner other(c.kind, dir.path());
    EXPECT_FALSE(other.key().verify(c.method, as_bytes(message), sig));
}

INSTANTIATE_TEST_SUITE_P(Types, KeyIdTest,
                         ::testing::Values(Case{"ecdsa", "ecdsa", "ecdsa"}, Case{"rsa", "rsa", "rsapss"},
                                           Case{"ed25519", "ed25519", "eddsa"}));

TEST(Key, EcdsaDerSignatureIsRefused) {
    test::TempDir dir;
    test::SoftwareSigner signer("ecdsa", dir.path());
    auto msg = dir / "msg", sig = dir / "sig";
    std::string message = "payload";
    test::write_bytes(msg, as_bytes(message));
    must_run("openssl dgst -sha256 -sign " + shell_quote(signer.pem_path().string()) + " -out " +
             shell_quote(sig.string()) + " " + shell_quote(msg.string()));
    std::string der = test::read_text(sig);
    // The CLI's DER signature is valid, but notary accepts only raw r||s.
    auto pub = dir / "pub.pem";
    must_run("openssl pkey -in " + shell_quote(signer.pem_path().string()) + " -pubout -out " +
             shell_quote(pub.string()));
    must_run("openssl dgst -sha256 -verify " + shell_quote(pub.string()) + " -signature " +
             shell_quote(sig.string()) + " " + shell_quote(msg.string()) + " | grep -q OK");
    EXPECT_FALSE(signer.key().verify("ecdsa", as_bytes(message), as_bytes(der)));
    EXPECT_TRUE(signer.key().verify("ecdsa", as_bytes(message), signer.sign(as_bytes(message))));
}

TEST(Key, X509KeyIdsMatchIndependentComputation) {
    test::TempDir dir;
    test::SoftwareSigner signer("ecdsa", dir.path());
    auto cert = dir / "cert.pem";
    must_run("openssl req -x509 -new -key " + shell_quote(signer.pem_path().string()) +
             " -subj '/CN=docker.io\\/library\\/app' -days 3650 -sha256 -out " + shell_quote(cert.string()));
    std::string pem = test::read_text(cert);
    Key key = Key::from_certificate_pem(pem);
    EXPECT_EQ(key.keytype(), "ecdsa-x509");
    EXPECT_EQ(std::string(key.public_bytes().begin(), key.public_bytes().end()), pem);
    EXPECT_EQ(key.id(), cli_file_key_id(cert, "ecdsa-x509"));
    // The canonical id is the plain ecdsa key's id.
    EXPECT_EQ(key.canonical_id(), test::cli_key_id(signer.pem_path(), false, "ecdsa"));
    EXPECT_NE(key.canonical_id(), key.id());
    EXPECT_EQ(key.canonical_key().keytype(), "ecdsa");
    // An x509 key verifies with the certificate's key.
    std::string message = "root body";
    EXPECT_TRUE(key.verify("ecdsa", as_bytes(message), signer.sign(as_bytes(message))));
    // CRLF or 76-column PEM is rewritten to Go's form, so the id stays the same.
    std::string crlf;
    for (char ch : pem) {
        if (ch == '\n') crlf += '\r';
        crlf += ch;
    }
    EXPECT_EQ(Key::from_certificate_pem(crlf).id(), key.id());
}

TEST(Key, RsaX509Certificate) {
    test::TempDir dir;
    test::SoftwareSigner signer("rsa", dir.path());
    auto cert = dir / "cert.pem";
    must_run("openssl req -x509 -new -key " + shell_quote(signer.pem_path().string()) +
             " -subj '/CN=example.com\\/app' -days 30 -sha256 -out " + shell_quote(cert.string()));
    Key key = Key::from_certificate_pem(test::read_text(cert));
    EXPECT_EQ(key.keytype(), "rsa-x509");
    EXPECT_EQ(key.id(), cli_file_key_id(cert, "rsa-x509"));
    EXPECT_EQ(key.canonical_id(), test::cli_key_id(signer.pem_path(), false, "rsa"));
}

TEST(Key, FromJsonRejectsBadInput) {
    test::TempDir dir;
    test::SoftwareSigner signer("ecdsa", dir.path());
    nlohmann::json good = signer.key().to_json();
    auto expect_malformed = [](const nlohmann::json& v, const std::string& needle) {
        try {
            Key::from_json(v, "targets", "delegations.keys.x");
            ADD_FAILURE() << "accepted " << v.dump();
        } catch (const Error& e) {
            EXPECT_EQ(e.errc(), Errc::malformed);
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("targets"), std::string::npos) << e.what();
        }
    };
    nlohmann::json v = good;
    v["keyval"]["private"] = "AAAA";
    expect_malformed(v, "private");
    v = good;
    v["keytype"] = "dsa";
    expect_malformed(v, "unknown key type");
    v = good;
    v["keytype"] = "rsa"; // an EC SPKI labelled rsa
    expect_malformed(v, "keyval.public");
    v = good;
    v["keyval"]["public"] = "not base64!";
    expect_malformed(v, "base64");
    v = good;
    v["keyval"].erase("public");
    expect_malformed(v, "missing");
    v = good;
    v["extra"] = 1;
    expect_malformed(v, "extra");
    expect_malformed(nlohmann::json::array(), "object");
    v = good;
    v["keytype"] = "ed25519";
    v["keyval"]["public"] = to_base64(Bytes(31, 1));
    expect_malformed(v, "32 bytes");
}

} // namespace
} // namespace trustkey::tuf
