#include "tools/trust/tuf/certificate.h"

#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/keys/evp_key.h"
#include "lib/core/error.h"
#include "tests/lib/keys/openssl_cli.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trust/tuf/software_signer.h"
#include "tools/trust/tuf/key.h"
#include "tools/trust/tuf/x509_ptr.h"

namespace trustkey::tuf {
namespace {

using test::must_run;
using test::shell_quote;

class CertificateTest : public ::testing::Test {
protected:
    test::TempDir dir;
    test::SoftwareSigner signer{"ecdsa", dir.path()};

    std::string make(const std::string& gun) {
        CertificateRequest req;
        req.common_name = gun;
        req.spki_der = signer.spki_der();
        return make_root_certificate(req, [&](std::span<const std::uint8_t> digest) {
            EXPECT_EQ(digest.size(), 32u);
            return signer.sign_digest(digest);
        });
    }
};

TEST_F(CertificateTest, SelfSignatureVerifiesWithOpenssl) {
    std::string pem = make("docker.io/library/app");
    auto path = dir / "cert.pem";
    test::write_bytes(path, as_bytes(pem));
    std::string c = shell_quote(path.string());
    std::string out = must_run("openssl verify -check_ss_sig -CAfile " + c + " " + c);
    EXPECT_NE(out.find(": OK"), std::string::npos) << out;

    auto certs = parse_certificates_pem(pem);
    ASSERT_EQ(certs.size(), 1u);
    keys::EvpPkeyPtr pkey = keys::pkey_from_spki(signer.spki_der());
    EXPECT_EQ(X509_verify(certs[0].get(), pkey.get()), 1);
}

TEST_F(CertificateTest, FieldsAreThoseNotaryWrites) {
    std::string pem = make("docker.io/library/app");
    auto path = dir / "cert.pem";
    test::write_bytes(path, as_bytes(pem));
    std::string text = must_run("openssl x509 -in " + shell_quote(path.string()) + " -noout -text");
    EXPECT_NE(text.find("Subject: CN = docker.io/library/app"), std::string::npos) << text;
    EXPECT_NE(text.find("Issuer: CN = docker.io/library/app"), std::string::npos) << text;
    EXPECT_NE(text.find("Version: 3"), std::string::npos) << text;
    EXPECT_NE(text.find("Signature Algorithm: ecdsa-with-SHA256"), std::string::npos) << text;
    EXPECT_NE(text.find("X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment"),
              std::string::npos) << text;
    EXPECT_NE(text.find("X509v3 Extended Key Usage: \n                Code Signing"), std::string::npos) << text;
    EXPECT_NE(text.find("X509v3 Basic Constraints: critical\n                CA:FALSE"), std::string::npos) << text;

    // Validity: now .. now + 10 years (365-day years), checked with the CLI's -checkend.
    std::string p = shell_quote(path.string());
    must_run("openssl x509 -in " + p + " -noout -checkend " + std::to_string(3650LL * 86400 - 3600));
    EXPECT_NE(test::run_command("openssl x509 -in " + p + " -noout -checkend " + std::to_string(3650LL * 86400 + 3600))
                  .exit_code,
              0);

    // Serials differ between certificates and hold up to 128 bits.
    auto serial_of = [&](const std::string& pem_text) {
        auto f = dir / "s.pem";
        test::write_bytes(f, as_bytes(pem_text));
        std::string s = must_run("openssl x509 -in " + shell_quote(f.string()) + " -noout -serial");
        return s.substr(s.find('=') + 1, s.find('\n') - s.find('=') - 1);
    };
    std::string s1 = serial_of(pem), s2 = serial_of(make("docker.io/library/app"));
    EXPECT_NE(s1, s2);
    EXPECT_LE(s1.size(), 32u);
    EXPECT_GE(s1.size(), 20u); // a 128-bit random number is this short with negligible chance
}

TEST_F(CertificateTest, PemHasGoLinesAndKeyIdsFollow) {
    std::string pem = make("example.com/org/app");
    EXPECT_TRUE(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    EXPECT_TRUE(pem.ends_with("-----END CERTIFICATE-----\n"));
    std::vector<std::string> body;
    std::size_t start = 0;
    while (start < pem.size()) {
        std::size_t end = pem.find('\n', start);
        ASSERT_NE(end, std::string::npos);
        std::string line = pem.substr(start, end - start);
        if (!line.starts_with("-----")) body.push_back(line);
        start = end + 1;
    }
    ASSERT_FALSE(body.empty());
    for (std::size_t i = 0; i + 1 < body.size(); ++i) EXPECT_EQ(body[i].size(), 64u) << i;
    EXPECT_LE(body.back().size(), 64u);
    std::size_t lines = body.size();
    EXPECT_GT(lines, 3u);
    Key key = Key::from_certificate_pem(pem);
    EXPECT_EQ(key.keytype(), "ecdsa-x509");
    EXPECT_EQ(std::string(key.public_bytes().begin(), key.public_bytes().end()), pem);
    EXPECT_EQ(key.canonical_id(), Key::from_spki(signer.spki_der()).id());
}

TEST_F(CertificateTest, BadSignerOrKeyIsRefused) {
    CertificateRequest req;
    req.common_name = "docker.io/library/app";
    req.spki_der = signer.spki_der();
    // Wrong length.
    EXPECT_THROW(make_root_certificate(req, [](auto) { return Bytes(63, 1); }), Error);
    // Right length, wrong signature.
    try {
        make_root_certificate(req, [](auto) { return Bytes(64, 1); });
        FAIL() << "accepted a bad signature";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::denied);
    }
    // Another key's signature.
    test::SoftwareSigner other("ecdsa", dir.path());
    EXPECT_THROW(make_root_certificate(req, [&](auto d) { return other.sign_digest(d); }), Error);
    req.common_name = "";
    EXPECT_THROW(make_root_certificate(req, [&](auto d) { return signer.sign_digest(d); }), Error);
    test::SoftwareSigner ed("ed25519", dir.path());
    req.common_name = "x";
    req.spki_der = ed.spki_der();
    try {
        make_root_certificate(req, [](auto) { return Bytes(64, 1); });
        FAIL() << "accepted an ed25519 key";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::unsupported_algorithm);
    }
}

} // namespace
} // namespace trustkey::tuf
