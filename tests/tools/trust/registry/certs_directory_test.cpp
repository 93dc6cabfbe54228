// CertsDirectory: docker's certs.d rules for one registry host, on files in a temporary root.
#include "tools/trust/registry/certs_directory.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "lib/core/error.h"
#include "tests/fixtures/expect_error.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::registry {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TempDir;
using test::write_file;

// A real self-signed CA certificate (PEM) made with openssl.
std::string make_ca_pem(const TempDir& scratch, const std::string& name) {
    const fs::path key = scratch / (name + ".key");
    const fs::path crt = scratch / (name + ".pem");
    test::run_checked({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                       "-keyout", key.string(), "-out", crt.string(), "-subj", "/CN=" + name, "-days", "2"});
    return test::read_file(crt);
}

class CertsDirectoryTest : public ::testing::Test {
protected:
    fs::path host_dir(const std::string& host, const fs::path& root) {
        const fs::path dir = root / host;
        fs::create_directories(dir);
        return dir;
    }

    TempDir m_root{"trustkey-certs-d"};
    TempDir m_scratch{"trustkey-certs-scratch"};
};

TEST_F(CertsDirectoryTest, MissingHostDirectoryMeansNoExtraSettings) {
    const CertsDirectory certs({m_root.path()});
    const RegistryTls tls = certs.for_host("registry.example:5000");
    EXPECT_TRUE(tls.dir.empty());
    EXPECT_TRUE(tls.ca_files.empty());
    EXPECT_FALSE(tls.client_cert);
    // A missing root is no error either.
    EXPECT_TRUE(CertsDirectory({m_root / "absent"}).for_host("x").ca_files.empty());
}

TEST_F(CertsDirectoryTest, EveryCrtIsACaInNameOrderAndTheCertKeyPairIsTheClientCertificate) {
    const fs::path dir = host_dir("127.0.0.1:5000", m_root.path());
    write_file(dir / "b.crt", make_ca_pem(m_scratch, "b"));
    write_file(dir / "a.crt", make_ca_pem(m_scratch, "a"));
    write_file(dir / "client.cert", make_ca_pem(m_scratch, "client"));
    write_file(dir / "client.key", test::read_file(m_scratch / "client.key"));
    write_file(dir / "README", "not a certificate, ignored");
    const RegistryTls tls = CertsDirectory({m_root.path()}).for_host("127.0.0.1:5000");
    EXPECT_EQ(tls.dir, dir);
    ASSERT_EQ(tls.ca_files.size(), 2u);
    EXPECT_EQ(tls.ca_files[0], dir / "a.crt");
    EXPECT_EQ(tls.ca_files[1], dir / "b.crt");
    ASSERT_TRUE(tls.client_cert);
    EXPECT_EQ(*tls.client_cert, dir / "client.cert");
    ASSERT_TRUE(tls.client_key);
    EXPECT_EQ(*tls.client_key, dir / "client.key");
    // Another host's directory is not consulted.
    EXPECT_TRUE(CertsDirectory({m_root.path()}).for_host("127.0.0.1:5001").ca_files.empty());
}

TEST_F(CertsDirectoryTest, ClientCertificateWithoutKeyIsAnErrorNamingBoth) {
    const fs::path dir = host_dir("reg.example", m_root.path());
    write_file(dir / "ca.cert", make_ca_pem(m_scratch, "ca"));  // a CA misnamed .cert, as docker warns
    const Error e = expect_error([&] { CertsDirectory({m_root.path()}).for_host("reg.example"); });
    EXPECT_EQ(e.errc(), Errc::config);
    const std::string what = e.what();
    EXPECT_NE(what.find((dir / "ca.key").string()), std::string::npos) << what;
    EXPECT_NE(what.find((dir / "ca.cert").string()), std::string::npos) << what;
    EXPECT_NE(what.find("*.crt"), std::string::npos) << what;
}

TEST_F(CertsDirectoryTest, KeyWithoutClientCertificateIsAnError) {
    const fs::path dir = host_dir("reg.example", m_root.path());
    make_ca_pem(m_scratch, "client");
    write_file(dir / "client.key", test::read_file(m_scratch / "client.key"));
    const Error e = expect_error([&] { CertsDirectory({m_root.path()}).for_host("reg.example"); });
    EXPECT_EQ(e.errc(), Errc::config);
    EXPECT_NE(std::string(e.what()).find("missing client certificate " + (dir / "client.cert").string()),
              std::string::npos)
        << e.what();
}

TEST_F(CertsDirectoryTest, CrtWithoutPemCertificateIsAnErrorNamingTheFile) {
    const fs::path dir = host_dir("reg.example", m_root.path());
    write_file(dir / "ca.crt", "this is not PEM\n");
    const Error e = expect_error([&] { CertsDirectory({m_root.path()}).for_host("reg.example"); });
    EXPECT_EQ(e.errc(), Errc::config);
    EXPECT_NE(std::string(e.what()).find((dir / "ca.crt").string()), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
}

TEST_F(CertsDirectoryTest, FirstRootHoldingTheHostWins) {
    TempDir user_root("trustkey-certs-user");
    const fs::path system_dir = host_dir("reg.example", m_root.path());
    write_file(system_dir / "system.crt", make_ca_pem(m_scratch, "system"));
    // The user's root has no directory for the host: the system one is used.
    const CertsDirectory both({user_root.path(), m_root.path()});
    ASSERT_EQ(both.for_host("reg.example").ca_files.size(), 1u);
    EXPECT_EQ(both.for_host("reg.example").ca_files[0], system_dir / "system.crt");
    // Once it has one, only that directory counts (docker reads a single directory).
    const fs::path user_dir = host_dir("reg.example", user_root.path());
    write_file(user_dir / "user.crt", make_ca_pem(m_scratch, "user"));
    const RegistryTls tls = both.for_host("reg.example");
    ASSERT_EQ(tls.ca_files.size(), 1u);
    EXPECT_EQ(tls.ca_files[0], user_dir / "user.crt");
    EXPECT_EQ(both.ca_hint("reg.example"), user_root / "reg.example" / "ca.crt");
}

TEST_F(CertsDirectoryTest, HostNeverLeavesTheRoot) {
    fs::create_directories(m_root / "sub");
    write_file(m_root / "sub" / "x.crt", make_ca_pem(m_scratch, "x"));
    const CertsDirectory certs({m_root / "sub" / "inner"});
    EXPECT_TRUE(certs.for_host("..").ca_files.empty());
    EXPECT_TRUE(certs.for_host("../sub").ca_files.empty());
}

TEST(CertsDirectoryDefaults, SystemRootIsLastAndRootUsesOnlyIt) {
    const auto roots = CertsDirectory::default_roots();
    ASSERT_FALSE(roots.empty());
    EXPECT_EQ(roots.back(), fs::path("/etc/docker/certs.d"));
    if (::geteuid() == 0) {
        EXPECT_EQ(roots.size(), 1u);
    }
}

} // namespace
} // namespace trustkey::registry
