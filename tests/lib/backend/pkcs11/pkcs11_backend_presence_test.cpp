// A PKCS#11 token pulled out and put back while its backend is open: the backend's presence
// logic against the unplug module (tests/support/unplug_pkcs11), which shows a real SoftHSM2
// token as OpenSC shows a removed one. A second token of the same SoftHSM2 stays in.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include "lib/backend/pin_asker.h"
#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "lib/keys/public_key.h"
#include "tests/fixtures/expect_error.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::backend::pkcs11 {
namespace {

constexpr const char* kPinVar = "TRUSTKEY_TEST_PIN";

class PresenceTest : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv(kPinVar, token.user_pin().c_str(), 1);
        ::setenv("TRUSTKEY_TEST_UNPLUG_FILE", pulled_file().c_str(), 1);
        ::setenv("TRUSTKEY_TEST_UNPLUG_TOKEN", token.label().c_str(), 1);
        // The token that stays in, beside the other in the same SoftHSM2.
        const test::CommandResult r = test::run_command("softhsm2-util --init-token --free --label stays --pin 4321 --so-pin 8765");
        ASSERT_EQ(r.exit_code, 0) << r.output;
    }

    std::filesystem::path pulled_file() const { return dir.path() / "pulled"; }
    void pull() { std::ofstream(pulled_file()) << "out\n"; }
    void put_back() { std::filesystem::remove(pulled_file()); }

    Pkcs11Config config(std::string uri, PinSource pin) const {
        Pkcs11Config c;
        c.name = uri == token.uri() ? "alpha" : "beta";
        c.module = UNPLUG_PKCS11_PATH;
        c.token_uri = std::move(uri);
        c.pin = std::move(pin);
        c.sessions = 2;
        return c;
    }
    std::unique_ptr<Backend> open_alpha() { return make_pkcs11_backend(config(token.uri(), {PinSource::Kind::env, kPinVar})); }

    static Bytes sign(Backend& b, const KeyInfo& key) {
        const Bytes digest = sha256(as_bytes(std::string_view("hot-plug")));
        return b.sign(key, HashAlg::sha256, digest);
    }
    static void expect_verifies(const KeyInfo& key, const Bytes& sig) {
        const Bytes digest = sha256(as_bytes(std::string_view("hot-plug")));
        EXPECT_TRUE(keys::verify_signature(key.type, key.spki_der, HashAlg::sha256, digest, sig));
    }

    test::TempDir dir{"trustkey-unplug"};
    test::SoftHsmToken token{"alpha", "1234"};
};

TEST_F(PresenceTest, PulledTokenIsAbsentNamingItAndSignsAgainOnceBack) {
    auto backend = open_alpha();
    const KeyInfo key = backend->generate("release", KeyType::ecdsa_p256);
    expect_verifies(key, sign(*backend, key));
    const std::string serial = backend->status().serial;
    ASSERT_FALSE(serial.empty());
    EXPECT_FALSE(backend->check_presence()) << "nothing changed since the backend opened";

    pull();
    const Error e = test::expect_error([&] { sign(*backend, key); });
    EXPECT_EQ(e.errc(), Errc::token_absent);
    EXPECT_NE(e.message().find("'alpha'"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(serial), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("plug it in"), std::string::npos) << e.message();
    // The key is still known, so a reference to it hears the token is absent.
    ASSERT_TRUE(backend->cached_key(key.id));
    EXPECT_TRUE(*backend->cached_key(key.id));
    const BackendStatus st = backend->status();
    EXPECT_FALSE(st.present);
    EXPECT_EQ(st.token_label, "alpha");
    EXPECT_EQ(st.serial, serial);
    EXPECT_EQ(st.key_count, 1u);
    EXPECT_NE(st.error.find("plug it in"), std::string::npos) << st.error;

    const auto removed = backend->check_presence();
    ASSERT_TRUE(removed);
    EXPECT_FALSE(removed->present);
    EXPECT_EQ(removed->label, "alpha");
    EXPECT_EQ(removed->serial, serial);
    EXPECT_FALSE(backend->check_presence()) << "a removal is reported once";

    put_back();
    const auto added = backend->check_presence();
    ASSERT_TRUE(added);
    EXPECT_TRUE(added->present);
    EXPECT_EQ(added->serial, serial);
    EXPECT_TRUE(backend->ready_to_sign()) << "logged in again with the configured PIN";
    expect_verifies(key, sign(*backend, key));
    EXPECT_TRUE(backend->status().present);
    EXPECT_FALSE(backend->check_presence());
}

TEST_F(PresenceTest, TheOtherTokenKeepsSigning) {
    auto alpha = open_alpha();
    ::setenv("TRUSTKEY_TEST_PIN_BETA", "4321", 1);
    auto beta = make_pkcs11_backend(config("pkcs11:token=stays", {PinSource::Kind::env, "TRUSTKEY_TEST_PIN_BETA"}));
    const KeyInfo a = alpha->generate("a", KeyType::ecdsa_p256);
    const KeyInfo b = beta->generate("b", KeyType::ed25519);
    pull();
    ASSERT_TRUE(alpha->check_presence());
    EXPECT_FALSE(beta->check_presence());
    EXPECT_EQ(test::expect_error([&] { sign(*alpha, a); }).errc(), Errc::token_absent);
    const Bytes message(std::string_view("hot-plug").begin(), std::string_view("hot-plug").end());
    EXPECT_TRUE(keys::verify_signature(b.type, b.spki_der, HashAlg::none, message,
                                           beta->sign(b, HashAlg::none, message)));
    EXPECT_TRUE(beta->status().present);
}

TEST_F(PresenceTest, PulledAndPutBackBetweenChecksSignsOnFreshSessions) {
    auto backend = open_alpha();
    const KeyInfo key = backend->generate("release", KeyType::rsa_2048);
    expect_verifies(key, sign(*backend, key));
    pull();
    // The module sees the token go (its sessions close) without the backend looking.
    CK_ULONG count = 0;
    ASSERT_EQ(Module::open(UNPLUG_PKCS11_PATH)->fn()->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_OK);
    put_back();
    // The backend never saw it gone: the first request finds its sessions invalid, opens new
    // ones and logs in again.
    expect_verifies(key, sign(*backend, key));
    // And the next checks tell it went, then that it is back.
    const auto removed = backend->check_presence();
    ASSERT_TRUE(removed);
    EXPECT_FALSE(removed->present);
    const auto added = backend->check_presence();
    ASSERT_TRUE(added);
    EXPECT_TRUE(added->present);
    EXPECT_FALSE(backend->check_presence());
}

TEST_F(PresenceTest, AbsentAtStartIsNamedByItsUriAndFoundLater) {
    pull();
    auto backend = open_alpha();
    EXPECT_FALSE(backend->status().present);
    const Error e = test::expect_error([&] { backend->list_keys(); });
    EXPECT_EQ(e.errc(), Errc::token_absent);
    EXPECT_NE(e.message().find(token.uri()), std::string::npos) << e.message();
    EXPECT_FALSE(backend->check_presence()) << "absent from the start: nothing changed";
    put_back();
    const auto added = backend->check_presence();
    ASSERT_TRUE(added);
    EXPECT_TRUE(added->present);
    EXPECT_EQ(added->label, "alpha");
    EXPECT_TRUE(backend->ready_to_sign());
}

TEST_F(PresenceTest, PinTypedIntoPinentryLogsInAgainWhileCached) {
    int questions = 0;
    Pkcs11Config c = config(token.uri(), {});
    c.ask_pin = [&](const PinQuestion&) -> std::optional<LockedBytes> {
        ++questions;
        return to_locked("1234");
    };
    auto backend = make_pkcs11_backend(c);
    KeyInfo key;
    {
        PinPurpose purpose("generate key release");
        key = backend->generate("release", KeyType::ecdsa_p256);
    }
    ASSERT_EQ(questions, 1);
    pull();
    ASSERT_TRUE(backend->check_presence());
    EXPECT_FALSE(backend->ready_to_sign());
    put_back();
    ASSERT_TRUE(backend->check_presence());
    EXPECT_TRUE(backend->ready_to_sign()) << "logged in again with the cached PIN";
    {
        PinPurpose purpose("sign with key release");
        expect_verifies(key, sign(*backend, key));
    }
    EXPECT_EQ(questions, 1) << "nobody was asked again";
}

TEST_F(PresenceTest, WithoutACachedPinTheNextRequestAsks) {
    int questions = 0;
    Pkcs11Config c = config(token.uri(), {});
    c.pin_cache = std::chrono::seconds(0);
    c.ask_pin = [&](const PinQuestion&) -> std::optional<LockedBytes> {
        ++questions;
        return to_locked("1234");
    };
    auto backend = make_pkcs11_backend(c);
    KeyInfo key;
    {
        PinPurpose purpose("generate key release");
        key = backend->generate("release", KeyType::ecdsa_p256);
    }
    pull();
    ASSERT_TRUE(backend->check_presence());
    put_back();
    ASSERT_TRUE(backend->check_presence());
    EXPECT_FALSE(backend->ready_to_sign()) << "no PIN kept: nobody is asked until a request needs the token";
    EXPECT_EQ(questions, 1);
    {
        PinPurpose purpose("sign with key release");
        expect_verifies(key, sign(*backend, key));
    }
    EXPECT_EQ(questions, 2);
}

} // namespace
} // namespace trustkey::backend::pkcs11
