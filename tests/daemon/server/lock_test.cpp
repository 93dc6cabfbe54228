// trustkeyd locked and unlocked (Lock, Unlock, the idle lock) over its socket, with a real
// SoftHSM2 token: locked, its keys are refused and the token is logged out; only the token's
// PIN unlocks it.
#include <fstream>
#include <thread>

#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::test {
namespace {

using namespace std::chrono_literals;
// trustkeyd with one SoftHSM2 token "hsm" whose PIN is in a pin_file.
class LockTest : public TrustkeydTest {
protected:
    // Starts the daemon with `extra` settings before the token's table.
    void start_with_token(const std::string& extra) {
        const auto pin_file = m_home / "pin";
        std::ofstream(pin_file) << m_token.user_pin();
        start({"--config", write_config(extra + "[[pkcs11]]\nname = \"hsm\"\nmodule = \"" + SoftHsmToken::module() +
                                        "\"\ntoken = \"" + m_token.uri() + "\"\npin_file = \"" + pin_file.string() +
                                        "\"\nsessions = 2\n")});
    }

    SoftHsmToken m_token{"lock-token", "4321"};
};

TEST_F(LockTest, LockedKeysAreRefusedTheTokenIsLoggedOutAndOnlyItsPinUnlocks) {
    // No pinentry: an unlock without a PIN is refused rather than asked for.
    start_with_token("pinentry = \"none\"\n");
    auto c = client();
    const auto key = c.generate_key("locked", pb::KEY_TYPE_ECDSA_P256);
    const auto digest = digest_of("before");
    expect_valid_signature(key, pb::HASH_SHA256, digest, c.sign(key.id(), pb::HASH_SHA256, digest).signature());
    EXPECT_FALSE(c.status().locked());
    ASSERT_TRUE(c.status().tokens(0).logged_in());

    c.lock();
    const auto locked = c.status();
    EXPECT_TRUE(locked.locked());
    EXPECT_FALSE(locked.tokens(0).logged_in());  // logged out, though its PIN file is still there
    std::string why;
    EXPECT_EQ(request_status([&] { c.sign(key.id(), pb::HASH_SHA256, digest); }, &why), pb::STATUS_LOCKED);
    EXPECT_NE(why.find("locked"), std::string::npos) << why;
    EXPECT_EQ(request_status([&] { c.sign_batch(key.id(), pb::HASH_SHA256, std::vector{digest, digest}); }),
              pb::STATUS_LOCKED);
    EXPECT_EQ(request_status([&] { c.list_keys(); }), pb::STATUS_LOCKED);
    EXPECT_EQ(request_status([&] { c.generate_key("another", pb::KEY_TYPE_ECDSA_P256); }), pb::STATUS_LOCKED);
    EXPECT_EQ(request_status([&] { c.login("hsm", m_token.user_pin()); }), pb::STATUS_LOCKED);
    // Another connection is refused as well: the lock is the daemon's, not the connection's.
    auto other = client();
    EXPECT_EQ(request_status([&] { other.sign(key.id(), pb::HASH_SHA256, digest); }), pb::STATUS_LOCKED);

    // A wrong PIN is the token's refusal, and the daemon stays locked.
    try {
        c.unlock("", "0000");
        ADD_FAILURE() << "a wrong PIN unlocked";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_PIN_INCORRECT) << e.what();
        EXPECT_EQ(e.backend(), "hsm");
    }
    EXPECT_TRUE(c.status().locked());
    EXPECT_EQ(request_status([&] { c.sign(key.id(), pb::HASH_SHA256, digest); }), pb::STATUS_LOCKED);
    EXPECT_EQ(request_status([&] { c.unlock("", ""); }), pb::STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(request_status([&] { c.unlock("nosuch", m_token.user_pin()); }), pb::STATUS_KEY_NOT_FOUND);

    // The right PIN: unlocked, logged in, and the same key signs again.
    EXPECT_EQ(c.unlock("", m_token.user_pin()), "hsm");
    const auto unlocked = c.status();
    EXPECT_FALSE(unlocked.locked());
    EXPECT_TRUE(unlocked.tokens(0).logged_in());
    const auto after = digest_of("after");
    expect_valid_signature(key, pb::HASH_SHA256, after, other.sign("locked", pb::HASH_SHA256, after).signature());
    EXPECT_EQ(c.list_keys().size(), 1u);
}

TEST_F(LockTest, IdleLockComesAfterTheConfiguredTimeWithoutUse) {
    start_with_token("idle_lock_seconds = 1\n");
    auto c = client();
    const auto key = c.generate_key("idle", pb::KEY_TYPE_ECDSA_P256);
    EXPECT_EQ(c.status().idle_lock_seconds(), 1u);
    const auto digest = digest_of("idle");
    c.sign(key.id(), pb::HASH_SHA256, digest);

    // Bounded wait for the lock: it comes a second after the last use (the timer's slack is one more).
    bool locked = false;
    for (int i = 0; i < 100 && !locked; ++i) {
        std::this_thread::sleep_for(100ms);
        locked = c.status().locked();
    }
    ASSERT_TRUE(locked);
    EXPECT_EQ(request_status([&] { c.sign(key.id(), pb::HASH_SHA256, digest); }), pb::STATUS_LOCKED);
    EXPECT_FALSE(c.status().tokens(0).logged_in());
    EXPECT_EQ(c.unlock("hsm", m_token.user_pin()), "hsm");
    expect_valid_signature(key, pb::HASH_SHA256, digest, c.sign(key.id(), pb::HASH_SHA256, digest).signature());
}

} // namespace
} // namespace trustkey::test
