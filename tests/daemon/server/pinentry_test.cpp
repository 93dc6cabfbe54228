// trustkeyd asking for a token's PIN through a pinentry program: a SoftHSM2 token with
// no pin_file / pin_env, and the stand-in pinentry (tests/lib/pinentry/fake_pinentry)
// configured as the program, answering the PIN a file holds; or Debian's real
// pinentry-tty asking on a pseudo-terminal given to trustkeyd as GPG_TTY.
#include <fstream>
#include <future>
#include <sstream>

#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/pty_terminal.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/fixture_io.h"

namespace trustkey::test {
namespace {

class PinentryTest : public TrustkeydTest {
protected:
    // A daemon whose token "hsm" has no PIN source; `pinentry` is the program setting.
    // `mode` is the stand-in's (fake_pinentry.cpp).
    void start_daemon(const std::string& pinentry = FAKE_PINENTRY_PATH, const std::string& mode = "answer") {
        const std::string cfg = write_config("pinentry = \"" + pinentry + "\"\n[[pkcs11]]\nname = \"hsm\"\nmodule = \"" +
                                             SoftHsmToken::module() + "\"\ntoken = \"" + m_token.uri() + "\"\n");
        auto o = options({"--log-level", "debug", "--config", cfg});
        o.env = {"FAKE_PINENTRY_MODE=" + mode, "FAKE_PINENTRY_PIN_FILE=" + (m_home / "typed").string(),
                 "FAKE_PINENTRY_LOG=" + (m_home / "asked").string()};
        start(std::move(o));
    }
    void type(const std::string& pin) { std::ofstream(m_home / "typed", std::ios::trunc) << pin << "\n"; }
    // Every line trustkeyd sent to a pinentry so far.
    std::string asked() const {
        return read_file(m_home / "asked");
    }

    SoftHsmToken m_token{"desk-token", "4321"};
};

TEST_F(PinentryTest, AsksOnceNamingTokenAndKeyThenSigns) {
    type("4321");
    start_daemon();
    auto c = client();
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    std::string sent = asked();
    EXPECT_EQ(occurrences(sent, "GETPIN"), 1u) << sent;
    // The prompt names the token, its serial, and what the PIN is for.
    const auto status = c.status();
    ASSERT_EQ(status.tokens_size(), 1);
    const std::string serial = status.tokens(0).serial();
    ASSERT_FALSE(serial.empty());
    EXPECT_NE(sent.find("SETDESC trustkeyd needs the PIN of token \"desk-token\" (serial " + serial +
                        ")%0Ato generate key releases."),
              std::string::npos)
        << sent;
    EXPECT_NE(sent.find("SETTITLE trustkey\n"), std::string::npos) << sent;
    EXPECT_EQ(sent.find("SETERROR"), std::string::npos) << sent;
    // The PIN typed never travels towards the program, and the daemon's log never has it.
    EXPECT_EQ(sent.find("4321"), std::string::npos) << sent;
    EXPECT_TRUE(status.tokens(0).logged_in());

    // Logged in now: signing does not ask again.
    const auto reply = c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
    expect_valid_signature(key, pb::HASH_SHA256, digest_of("x"), reply.signature());
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 1u) << asked();
    stop_and_check();
    EXPECT_EQ(m_daemon->log().find("4321"), std::string::npos) << m_daemon->log();
    EXPECT_NE(m_daemon->log().find("event=pin_asked"), std::string::npos) << m_daemon->log();
}

TEST_F(PinentryTest, AWrongPinIsReportedWithTheTokensFlagsAndNotRetried) {
    type("4321");
    start_daemon();
    const auto key = client().generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    stop_and_check();
    std::filesystem::remove(m_home / "asked");

    // A fresh daemon, and the user types a wrong PIN.
    type("0000");
    start_daemon();
    auto c = client();
    try {
        c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
        ADD_FAILURE() << "signing with a wrong PIN succeeded";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_PIN_INCORRECT) << e.what();
        EXPECT_EQ(e.pin().refused(), pb::PIN_ORIGIN_PINENTRY) << e.what();
        EXPECT_TRUE(e.pin().count_low()) << "SoftHSM2 counts the failed try";
        EXPECT_FALSE(e.pin().locked());
        EXPECT_NE(std::string(e.what()).find("refused the PIN entered in pinentry"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("few tries left"), std::string::npos) << e.what();
    }
    // One question for the one request: the refused PIN was not tried again, nor asked again.
    const std::string first_time = asked();
    EXPECT_EQ(occurrences(first_time, "GETPIN"), 1u) << first_time;
    // Asking for a status does not bring up a prompt.
    const auto status = c.status();
    EXPECT_EQ(status.tokens(0).pin_refused(), pb::PIN_ORIGIN_PINENTRY);
    EXPECT_FALSE(status.tokens(0).logged_in());
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 1u) << asked();

    // The next request asks again, showing why; the right PIN signs.
    type("4321");
    const auto reply = c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
    expect_valid_signature(key, pb::HASH_SHA256, digest_of("x"), reply.signature());
    const std::string second_time = asked().substr(first_time.size());
    EXPECT_EQ(occurrences(second_time, "GETPIN"), 1u) << second_time;
    EXPECT_NE(second_time.find("SETERROR The PIN was wrong; the token reports few tries left."), std::string::npos)
        << second_time;
    // The key as the request named it (its name and id are known only once the token is read).
    EXPECT_NE(second_time.find("%0Ato sign with key " + key.id() + "."), std::string::npos) << second_time;
    EXPECT_FALSE(c.status().tokens(0).pin_count_low()) << "a good login resets the count";
}

TEST_F(PinentryTest, CancelledEntryIsPinRequired) {
    start_daemon(FAKE_PINENTRY_PATH, "cancel");
    try {
        client().generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
        ADD_FAILURE() << "a cancelled PIN entry generated a key";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_PIN_REQUIRED) << e.what();
        EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
    }
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 1u) << asked();
    EXPECT_TRUE(m_daemon->running());
}

TEST_F(PinentryTest, AMissingProgramIsPinRequiredSayingWhy) {
    start_daemon("/nonexistent/pinentry");
    try {
        client().generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
        ADD_FAILURE() << "a key was generated without a PIN";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_PIN_REQUIRED) << e.what();
        EXPECT_NE(std::string(e.what()).find("pinentry could not ask for it"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("cannot start the pinentry program"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(m_daemon->running());
}

TEST_F(PinentryTest, NoneWaitsForLogin) {
    type("4321");
    start_daemon("none");
    auto c = client();
    try {
        c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
        ADD_FAILURE() << "a key was generated without a PIN";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_PIN_REQUIRED) << e.what();
    }
    EXPECT_EQ(asked(), "") << "no pinentry was started";
    c.login("hsm", "4321");
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    const auto reply = c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
    expect_valid_signature(key, pb::HASH_SHA256, digest_of("x"), reply.signature());
}

TEST_F(PinentryTest, RealPinentryTtyAsksOnTheUsersTerminal) {
    PtyTerminal terminal;
    const std::string cfg = write_config("pinentry = \"pinentry-tty\"\n[[pkcs11]]\nname = \"hsm\"\nmodule = \"" +
                                         SoftHsmToken::module() + "\"\ntoken = \"" + m_token.uri() + "\"\n");
    auto o = options({"--config", cfg});
    o.env = {"GPG_TTY=" + terminal.name(), "TERM=dumb"};
    start(std::move(o));

    auto made = std::async(std::launch::async, [&] { return client().generate_key("releases", pb::KEY_TYPE_ECDSA_P256); });
    ASSERT_TRUE(terminal.wait_for("PIN:", std::chrono::seconds(20))) << terminal.output();
    EXPECT_NE(terminal.output().find("trustkeyd needs the PIN of token \"desk-token\" (serial "), std::string::npos)
        << terminal.output();
    EXPECT_NE(terminal.output().find("to generate key releases."), std::string::npos) << terminal.output();
    terminal.type("4321\r");
    const auto key = made.get();
    EXPECT_EQ(key.name(), "releases");
    terminal.wait_for("\x01(nothing more)", std::chrono::milliseconds(300));  // what followed the typing
    EXPECT_EQ(terminal.output().find("4321"), std::string::npos) << "the PIN is not echoed";
    const auto reply = client().sign(key.id(), pb::HASH_SHA256, digest_of("x"));
    expect_valid_signature(key, pb::HASH_SHA256, digest_of("x"), reply.signature());
}

} // namespace
} // namespace trustkey::test
