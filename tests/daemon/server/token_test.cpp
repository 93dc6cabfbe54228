// trustkeyd with configured SoftHSM2 tokens: PIN files, Login, keys on two backends.
#include <fstream>

#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::test {
namespace {

using TokenTest = TrustkeydTest;

std::string pkcs11_table(const std::string& name, const std::string& uri, const std::string& pin_file) {
    return "[[pkcs11]]\nname = \"" + name + "\"\nmodule = \"" + SoftHsmToken::module() + "\"\ntoken = \"" + uri +
           "\"\npin_file = \"" + pin_file + "\"\nsessions = 2\n";
}

TEST_F(TokenTest, WrongPinFileThenLoginWithTheRightPin) {
    SoftHsmToken token("pin-token", "1234");
    const auto pin_file = (m_home / "pin").string();
    std::ofstream(pin_file) << token.user_pin();
    const std::string cfg = write_config(pkcs11_table("hsm", token.uri(), pin_file));

    // With the right PIN, make a key.
    start({"--config", cfg});
    const auto key = client().generate_key("signer", pb::KEY_TYPE_ECDSA_P256);
    stop_and_check();

    // Now the PIN file is wrong: signing fails with PIN_INCORRECT and the token's flags.
    std::ofstream(pin_file, std::ios::trunc) << "9999";
    start({"--config", cfg});
    auto c = client();
    try {
        c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
        ADD_FAILURE() << "signing with a wrong PIN succeeded";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_PIN_INCORRECT) << e.what();
        EXPECT_FALSE(e.pin().locked());
    }
    // Login with the right PIN makes the same key usable.
    c.login("hsm", token.user_pin());
    const auto reply = c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
    expect_valid_signature(key, pb::HASH_SHA256, digest_of("x"), reply.signature());
    // A wrong PIN through Login is reported too.
    try {
        c.login("hsm", "0000");
        ADD_FAILURE() << "login with a wrong PIN succeeded";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_PIN_INCORRECT) << e.what();
    }
}

TEST_F(TokenTest, UriMatchingTwoTokensStopsTheStartNamingBoth) {
    SoftHsmToken first("first", "1111");
    const auto r = run_command("softhsm2-util --init-token --free --label second --pin 2222 --so-pin 5678");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto pin = (m_home / "pin").string();
    std::ofstream(pin) << "1111";
    auto daemon = launch(options(
        {"--config", write_config(pkcs11_table("hsm", "pkcs11:manufacturer=SoftHSM%20project", pin))}));
    EXPECT_EQ(daemon->wait_exit(), 1);
    const std::string log = daemon->log();
    EXPECT_NE(log.find("matches 2 tokens"), std::string::npos) << log;
    EXPECT_NE(log.find("'first' (serial "), std::string::npos) << log;
    EXPECT_NE(log.find("'second' (serial "), std::string::npos) << log;
    EXPECT_NE(log.find("add serial= or token="), std::string::npos) << log;
}

TEST_F(TokenTest, NameOnTwoBackendsIsAmbiguous) {
    SoftHsmToken first("first", "1111");
    // A second token in the same SoftHSM2 token directory.
    const auto r = run_command("softhsm2-util --init-token --free --label second --pin 2222 --so-pin 5678");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto pin1 = (m_home / "pin1").string();
    const auto pin2 = (m_home / "pin2").string();
    std::ofstream(pin1) << "1111";
    std::ofstream(pin2) << "2222";
    start({"--config", write_config(pkcs11_table("one", first.uri(), pin1) +
                                    pkcs11_table("two", "pkcs11:token=second", pin2))});
    auto c = client();
    const auto a = c.generate_key("shared-name", pb::KEY_TYPE_ECDSA_P256, "one");
    const auto b = c.generate_key("shared-name", pb::KEY_TYPE_ECDSA_P256, "two");
    EXPECT_EQ(a.backend(), "one");
    EXPECT_EQ(b.backend(), "two");
    try {
        c.sign("shared-name", pb::HASH_SHA256, digest_of("x"));
        ADD_FAILURE() << "an ambiguous name was resolved";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_AMBIGUOUS_KEY) << e.what();
        ASSERT_EQ(e.candidates().size(), 2u);
        std::vector<std::string> want{a.id() + " shared-name", b.id() + " shared-name"};
        std::vector<std::string> got(e.candidates().begin(), e.candidates().end());
        std::sort(want.begin(), want.end());
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, want);
    }
    // The full id still picks one.
    const auto reply = c.sign(b.id(), pb::HASH_SHA256, digest_of("x"));
    expect_valid_signature(b, pb::HASH_SHA256, digest_of("x"), reply.signature());
    // The same name twice on one backend is refused.
    try {
        c.generate_key("shared-name", pb::KEY_TYPE_ECDSA_P256, "one");
        ADD_FAILURE() << "a duplicate name was accepted";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_KEY_EXISTS) << e.what();
    }
    expect_serves();
}

} // namespace
} // namespace trustkey::test
