#include "lib/backend/pkcs11/embedded_token.h"

#include <sys/stat.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "lib/keys/public_key.h"
#include "lib/core/error.h"
#include "tests/lib/keys/openssl_cli.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::backend::pkcs11 {
namespace {

const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";

mode_t mode_of(const std::filesystem::path& p) {
    struct stat st{};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

TEST(EmbeddedToken, CreatesThenReuses) {
    test::TempDir dir;
    auto data = dir.path() / "trustkey";
    Pkcs11Config config = ensure_embedded_token(data, kModule);
    EXPECT_EQ(config.name, "trustkey");
    EXPECT_EQ(config.token_uri, "pkcs11:token=trustkey");
    EXPECT_EQ(config.module, kModule);
    EXPECT_EQ(config.pin.kind, PinSource::Kind::file);
    EXPECT_EQ(config.pin.ref, (data / "pins").string());
    EXPECT_EQ(std::string(std::getenv("SOFTHSM2_CONF")), (data / "softhsm2.conf").string());
    EXPECT_EQ(mode_of(data), 0700u);
    EXPECT_EQ(mode_of(data / "pins"), 0600u);
    std::string pins = test::read_text(data / "pins");
    // "user_pin=<16 hex>\nso_pin=<16 hex>\n"
    ASSERT_EQ(pins.size(), 9 + 16 + 1 + 7 + 16 + 1) << pins;
    EXPECT_EQ(pins.substr(0, 9), "user_pin=");
    EXPECT_EQ(pins.substr(26, 7), "so_pin=");
    EXPECT_EQ(pins[25], '\n');
    EXPECT_EQ(pins.back(), '\n');
    for (std::string_view hex : {std::string_view(pins).substr(9, 16), std::string_view(pins).substr(33, 16)})
        EXPECT_TRUE(hex.find_first_not_of("0123456789abcdef") == std::string_view::npos) << pins;
    EXPECT_NE(pins.substr(9, 16), pins.substr(33, 16));
    std::string conf = test::read_text(data / "softhsm2.conf");
    EXPECT_NE(conf.find("directories.tokendir = " + (data / "tokens").string() + "\n"), std::string::npos);
    EXPECT_NE(conf.find("objectstore.backend = file"), std::string::npos);

    KeyInfo k;
    {
        auto backend = make_pkcs11_backend(config);
        k = backend->generate("embedded", KeyType::ecdsa_p256);
        BackendStatus st = backend->status();
        EXPECT_TRUE(st.present);
        EXPECT_TRUE(st.logged_in) << st.error;
        EXPECT_EQ(st.token_label, "trustkey");
    }
    // Second start: same PINs, same token, the key is still there.
    Pkcs11Config again = ensure_embedded_token(data, kModule);
    EXPECT_EQ(test::read_text(data / "pins"), pins);
    auto backend = make_pkcs11_backend(again);
    auto keys = backend->list_keys();
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].id, k.id);
    Bytes digest = sha256(as_bytes("hello"));
    Bytes sig = backend->sign(keys[0], HashAlg::sha256, digest);
    EXPECT_TRUE(verify_signature(k.type, k.spki_der, HashAlg::sha256, digest, sig));
}

TEST(EmbeddedToken, LostTokenIsRecreatedWithTheSamePins) {
    test::TempDir dir;
    auto data = dir.path() / "trustkey";
    ensure_embedded_token(data, kModule);
    std::string pins = test::read_text(data / "pins");
    for (const auto& entry : std::filesystem::directory_iterator(data / "tokens")) std::filesystem::remove_all(entry);
    Pkcs11Config config = ensure_embedded_token(data, kModule);
    EXPECT_EQ(test::read_text(data / "pins"), pins);
    auto backend = make_pkcs11_backend(config);
    EXPECT_TRUE(backend->list_keys().empty());
    EXPECT_TRUE(backend->status().logged_in);
}

TEST(EmbeddedToken, MissingPinFileWithExistingTokenIsConfigError) {
    test::TempDir dir;
    auto data = dir.path() / "trustkey";
    ensure_embedded_token(data, kModule);
    std::filesystem::remove(data / "pins");
    try {
        ensure_embedded_token(data, kModule);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::config);
    }
}

TEST(EmbeddedToken, DefaultDataDir) {
    ::setenv("XDG_DATA_HOME", "/srv/xdg", 1);
    EXPECT_EQ(default_data_dir(), std::filesystem::path("/srv/xdg/trustkey"));
    ::unsetenv("XDG_DATA_HOME");
    ::setenv("HOME", "/home/someone", 1);
    EXPECT_EQ(default_data_dir(), std::filesystem::path("/home/someone/.local/share/trustkey"));
}

} // namespace
} // namespace trustkey::backend::pkcs11
