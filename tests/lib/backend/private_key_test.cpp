#include "lib/backend/private_key.h"

#include <gtest/gtest.h>

#include "lib/keys/public_key.h"
#include "lib/core/error.h"
#include "tests/lib/keys/openssl_cli.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::backend {
namespace {

using test::must_run;
using test::shell_quote;

class PrivateKeyTest : public ::testing::Test {
protected:
    std::string path(const char* name) { return shell_quote((dir / name).string()); }
    std::string text(const char* name) { return test::read_text(dir / name); }
    Errc errc_of(std::string_view pem, const SecureBytes* pass) {
        try {
            PrivateKey::from_pem(pem, pass);
        } catch (const Error& e) {
            return e.errc();
        }
        ADD_FAILURE() << "parsed without error";
        return Errc::internal;
    }
    // Adds docker-style header lines after the BEGIN line.
    static std::string with_role_header(const std::string& pem) {
        auto eol = pem.find('\n');
        return pem.substr(0, eol + 1) + "role: root\ngun: docker.io/library/x\n\n" + pem.substr(eol + 1);
    }
    test::TempDir dir;
};

TEST_F(PrivateKeyTest, Pkcs8EachType) {
    struct {
        const char* kind;
        KeyType type;
    } cases[] = {{"ecdsa", KeyType::ecdsa_p256}, {"rsa", KeyType::rsa_2048}, {"ed25519", KeyType::ed25519}};
    for (const auto& c : cases) {
        test::generate_pem(c.kind, dir / "k.pem");
        std::string pem = text("k.pem");
        ASSERT_NE(pem.find("BEGIN PRIVATE KEY"), std::string::npos);
        PrivateKey key = PrivateKey::from_pem(pem, nullptr);
        EXPECT_EQ(key.type(), c.type) << c.kind;
        EXPECT_EQ(key.spki_der(), *from_hex(test::must_run("openssl pkey -in " + path("k.pem") +
                                                            " -pubout -outform DER | xxd -p | tr -d '\\n'")));
    }
}

TEST_F(PrivateKeyTest, Rsa4096) {
    test::generate_pem("rsa4096", dir / "k.pem");
    EXPECT_EQ(PrivateKey::from_pem(text("k.pem"), nullptr).type(), KeyType::rsa_4096);
}

TEST_F(PrivateKeyTest, EncryptedPkcs8WithDockerHeaders) {
    test::generate_pem("ecdsa", dir / "k.pem");
    must_run("openssl pkcs8 -topk8 -v2 aes-256-cbc -in " + path("k.pem") + " -out " + path("enc.pem") +
             " -passout pass:s3cret");
    std::string pem = with_role_header(text("enc.pem"));
    ASSERT_NE(pem.find("ENCRYPTED PRIVATE KEY"), std::string::npos);
    SecureBytes pass = secure_from("s3cret");
    PrivateKey key = PrivateKey::from_pem(pem, &pass);
    EXPECT_EQ(key.type(), KeyType::ecdsa_p256);
    EXPECT_EQ(key.spki_der(), PrivateKey::from_pem(text("k.pem"), nullptr).spki_der());

    SecureBytes wrong = secure_from("wrong");
    EXPECT_EQ(errc_of(pem, &wrong), Errc::bad_passphrase);
    EXPECT_EQ(errc_of(pem, nullptr), Errc::bad_passphrase);
}

TEST_F(PrivateKeyTest, Sec1EcPrivateKey) {
    test::generate_pem("ecdsa", dir / "k.pem");
    must_run("openssl ec -in " + path("k.pem") + " -out " + path("sec1.pem"));
    std::string pem = text("sec1.pem");
    ASSERT_NE(pem.find("BEGIN EC PRIVATE KEY"), std::string::npos);
    PrivateKey key = PrivateKey::from_pem(with_role_header(pem), nullptr);
    EXPECT_EQ(key.type(), KeyType::ecdsa_p256);
    EXPECT_EQ(key.spki_der(), PrivateKey::from_pem(text("k.pem"), nullptr).spki_der());
}

TEST_F(PrivateKeyTest, Pkcs1RsaPrivateKey) {
    test::generate_pem("rsa", dir / "k.pem");
    must_run("openssl rsa -traditional -in " + path("k.pem") + " -out " + path("rsa1.pem"));
    std::string pem = text("rsa1.pem");
    ASSERT_NE(pem.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
    PrivateKey key = PrivateKey::from_pem(with_role_header(pem), nullptr);
    EXPECT_EQ(key.type(), KeyType::rsa_2048);
    EXPECT_EQ(key.spki_der(), PrivateKey::from_pem(text("k.pem"), nullptr).spki_der());
}

TEST_F(PrivateKeyTest, UnsupportedAlgorithms) {
    must_run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out " + path("p384.pem"));
    EXPECT_EQ(errc_of(text("p384.pem"), nullptr), Errc::unsupported_algorithm);
    must_run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out " + path("rsa1024.pem"));
    EXPECT_EQ(errc_of(text("rsa1024.pem"), nullptr), Errc::unsupported_algorithm);
    must_run("openssl genpkey -algorithm ED448 -out " + path("ed448.pem"));
    EXPECT_EQ(errc_of(text("ed448.pem"), nullptr), Errc::unsupported_algorithm);
}

TEST_F(PrivateKeyTest, GarbageIsBadKeyFormat) {
    EXPECT_EQ(errc_of("", nullptr), Errc::bad_key_format);
    EXPECT_EQ(errc_of("not a key at all", nullptr), Errc::bad_key_format);
    EXPECT_EQ(errc_of("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", nullptr),
              Errc::bad_key_format);
    EXPECT_EQ(errc_of("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n", nullptr),
              Errc::bad_key_format);
    test::generate_pem("ecdsa", dir / "k.pem");
    must_run("openssl pkey -in " + path("k.pem") + " -pubout -out " + path("pub.pem"));
    EXPECT_EQ(errc_of(text("pub.pem"), nullptr), Errc::bad_key_format);
    // A truncated body.
    std::string pem = text("k.pem");
    std::string cut = pem.substr(0, 60) + "\n-----END PRIVATE KEY-----\n";
    EXPECT_EQ(errc_of(cut, nullptr), Errc::bad_key_format);
}

} // namespace
} // namespace trustkey::backend
