// A PKCS#11 token pulled out of the running trustkeyd and put back: two tokens of one real
// SoftHSM2 behind the unplug module (tests/support/unplug_pkcs11), which shows "alpha" as
// OpenSC shows a removed token while the control file exists; "stays" stays in. The daemon
// looks for its tokens every second (token_poll_seconds).
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/fixture_io.h"

namespace trustkey::test {
namespace {

using namespace std::chrono_literals;

class TokenPresenceTest : public TrustkeydTest {
protected:
    void SetUp() override {
        const CommandResult r =
            run_command("softhsm2-util --init-token --free --label stays --pin 4321 --so-pin 8765");
        ASSERT_EQ(r.exit_code, 0) << r.output;
    }

    // alpha's PIN from `alpha_pin_env` (empty: none, asked through the stand-in pinentry).
    void start_daemon(bool alpha_pin_configured) {
        std::string cfg = "token_poll_seconds = 1\npinentry = \"" + std::string(FAKE_PINENTRY_PATH) +
                          "\"\n[[pkcs11]]\nname = \"alpha\"\nmodule = \"" + UNPLUG_PKCS11_PATH +
                          "\"\ntoken = \"pkcs11:token=alpha\"\nsessions = 2\n";
        if (alpha_pin_configured) cfg += "pin_env = \"ALPHA_PIN\"\n";
        cfg += "[[pkcs11]]\nname = \"beta\"\nmodule = \"" + std::string(UNPLUG_PKCS11_PATH) +
               "\"\ntoken = \"pkcs11:token=stays\"\npin_env = \"BETA_PIN\"\nsessions = 2\n";
        auto o = options({"--config", write_config(cfg)});
        o.env = {"ALPHA_PIN=1234", "BETA_PIN=4321", "TRUSTKEY_TEST_UNPLUG_FILE=" + pulled_file().string(),
                 "TRUSTKEY_TEST_UNPLUG_TOKEN=alpha", "FAKE_PINENTRY_MODE=answer",
                 "FAKE_PINENTRY_PIN_FILE=" + (m_home / "typed").string(),
                 "FAKE_PINENTRY_LOG=" + (m_home / "asked").string()};
        std::ofstream(m_home / "typed", std::ios::trunc) << "1234\n";
        start(std::move(o));
    }
    std::filesystem::path pulled_file() const { return m_home / "pulled"; }
    void pull() { std::ofstream(pulled_file()) << "out\n"; }
    void put_back() { std::filesystem::remove(pulled_file()); }

    // True once the daemon's log holds `what` (bounded: a few poll intervals).
    bool wait_for_log(const std::string& what, std::chrono::milliseconds timeout = 5s) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (m_daemon->log().find(what) != std::string::npos) return true;
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }
    std::string asked() const {
        return read_file(m_home / "asked");
    }
    static const pb::TokenStatus& token_of(const pb::StatusReply& st, const std::string& backend) {
        for (const auto& t : st.tokens())
            if (t.backend() == backend) return t;
        throw std::runtime_error("no backend " + backend);
    }
    void expect_signs(proto::Client& c, const pb::KeyInfo& key) {
        const auto reply = c.sign(key.id(), pb::HASH_SHA256, digest_of("hot-plug"));
        expect_valid_signature(key, pb::HASH_SHA256, digest_of("hot-plug"), reply.signature());
    }
    void expect_absent(proto::Client& c, const pb::KeyInfo& key, const std::string& serial) {
        try {
            c.sign(key.name(), pb::HASH_SHA256, digest_of("hot-plug"));
            ADD_FAILURE() << "a key of a pulled token signed";
        } catch (const proto::ClientError& e) {
            EXPECT_EQ(e.status(), pb::STATUS_TOKEN_ABSENT) << e.what();
            const std::string what = e.what();
            EXPECT_NE(what.find("token 'alpha' (serial " + serial + ") is absent; plug it in"), std::string::npos)
                << what;
        }
    }

    SoftHsmToken m_token{"alpha", "1234"};
};

TEST_F(TokenPresenceTest, PulledTokenIsAbsentTheOtherSignsAndItSignsAgainOnceBack) {
    start_daemon(true);
    auto c = client();
    const auto a = c.generate_key("alpha-key", pb::KEY_TYPE_ECDSA_P256, "alpha");
    const auto b = c.generate_key("beta-key", pb::KEY_TYPE_ECDSA_P256, "beta");
    const std::string serial = token_of(c.status(), "alpha").serial();
    ASSERT_FALSE(serial.empty());

    pull();
    expect_absent(c, a, serial);
    expect_signs(c, b);
    const auto st = c.status();
    EXPECT_FALSE(token_of(st, "alpha").present());
    EXPECT_EQ(token_of(st, "alpha").label(), "alpha");
    EXPECT_EQ(token_of(st, "alpha").key_count(), 1u);
    EXPECT_TRUE(token_of(st, "beta").present());
    ASSERT_TRUE(wait_for_log("event=token_removed backend=\"alpha\"")) << m_daemon->log();

    put_back();
    ASSERT_TRUE(wait_for_log("event=token_added backend=\"alpha\"")) << m_daemon->log();
    expect_signs(c, a);
    EXPECT_TRUE(token_of(c.status(), "alpha").present());
    EXPECT_TRUE(token_of(c.status(), "alpha").logged_in());
    expect_signs(c, b);
    // One line each way, and none for the token that stayed.
    std::this_thread::sleep_for(1200ms);  // one more check finds nothing new
    EXPECT_EQ(occurrences(m_daemon->log(), "event=token_removed"), 1u) << m_daemon->log();
    EXPECT_EQ(occurrences(m_daemon->log(), "event=token_added"), 1u) << m_daemon->log();
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 0u) << "the configured PIN logged in again";
    stop_and_check();
}

TEST_F(TokenPresenceTest, PinTypedIntoPinentryLogsInAgainFromTheCache) {
    start_daemon(false);
    auto c = client();
    const auto a = c.generate_key("alpha-key", pb::KEY_TYPE_ECDSA_P256, "alpha");
    ASSERT_EQ(occurrences(asked(), "GETPIN"), 1u) << asked();
    const std::string serial = token_of(c.status(), "alpha").serial();

    pull();
    ASSERT_TRUE(wait_for_log("event=token_removed backend=\"alpha\"")) << m_daemon->log();
    expect_absent(c, a, serial);
    EXPECT_FALSE(token_of(c.status(), "alpha").logged_in());
    put_back();
    ASSERT_TRUE(wait_for_log("event=token_added backend=\"alpha\"")) << m_daemon->log();
    EXPECT_TRUE(token_of(c.status(), "alpha").logged_in()) << "the cached PIN logged in again at once";
    expect_signs(c, a);
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 1u) << "nobody was asked again: " << asked();
    stop_and_check();
}

} // namespace
} // namespace trustkey::test
