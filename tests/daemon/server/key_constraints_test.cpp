// Per-key constraints ([[key_constraint]], as ssh-add -c and -t) on the real trustkeyd with a
// real SoftHSM2 token: a key whose each use is confirmed through pinentry — the stand-in
// program (tests/lib/pinentry/fake_pinentry) answering yes, no or cancel from a file, or
// Debian's real pinentry-tty on a pseudo-terminal the test types y or n at — and a key whose
// token's login ends after its lifetime.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "lib/core/encoding.h"
#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/pty_terminal.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/fixture_io.h"

namespace trustkey::test {
namespace {

using namespace std::chrono_literals;

class KeyConstraintsTest : public TrustkeydTest {
protected:
    // A daemon with token "hsm" (its PIN in a pin_file unless `pin_file` is false: then asked
    // through `pinentry`), `constraints` ([[key_constraint]] tables) and `extra` settings.
    void start_daemon(const std::string& constraints, bool pin_file = true,
                      const std::string& pinentry = FAKE_PINENTRY_PATH, std::vector<std::string> env = {}) {
        std::string token = "[[pkcs11]]\nname = \"hsm\"\nmodule = \"" + SoftHsmToken::module() + "\"\ntoken = \"" +
                            m_token.uri() + "\"\nsessions = 2\n";
        if (pin_file) {
            std::ofstream(m_home / "pin") << m_token.user_pin();
            token += "pin_file = \"" + (m_home / "pin").string() + "\"\n";
        }
        const std::string cfg =
            write_config("pinentry = \"" + pinentry + "\"\npinentry_timeout_seconds = " +
                         std::to_string(m_answer_within) + "\n" + token + constraints);
        auto o = options({"--log-level", "debug", "--config", cfg});
        o.env = {"FAKE_PINENTRY_PIN_FILE=" + (m_home / "typed").string(),
                 "FAKE_PINENTRY_CONFIRM_FILE=" + (m_home / "confirm").string(),
                 "FAKE_PINENTRY_LOG=" + (m_home / "asked").string()};
        o.env.insert(o.env.end(), env.begin(), env.end());
        start(std::move(o));
    }
    void answer(const std::string& confirm) { std::ofstream(m_home / "confirm", std::ios::trunc) << confirm << "\n"; }
    void type(const std::string& pin) { std::ofstream(m_home / "typed", std::ios::trunc) << pin << "\n"; }
    // Every line trustkeyd sent to a pinentry so far.
    std::string asked() const {
        return read_file(m_home / "asked");
    }
    // This test program: the caller the confirmation names.
    static std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

    SoftHsmToken m_token{"constraint-token", "4321"};
    unsigned m_answer_within = 20;  // pinentry_timeout_seconds
};

TEST_F(KeyConstraintsTest, EachUseIsConfirmedYesSignsNoAndCancelAreDenied) {
    start_daemon("[[key_constraint]]\nkey = \"releases\"\nconfirm = true\n");
    auto c = client();
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    const auto other = c.generate_key("other", pb::KEY_TYPE_ECDSA_P256);
    EXPECT_EQ(occurrences(asked(), "CONFIRM"), 0u) << "generating a key asks nothing";

    // Yes: signed, after one question naming the caller, the key, its token and the digest.
    answer("yes");
    const auto digest = digest_of("release 1.0");
    const auto reply = c.sign(key.id(), pb::HASH_SHA256, digest);
    expect_valid_signature(key, pb::HASH_SHA256, digest, reply.signature());
    std::string sent = asked();
    EXPECT_EQ(occurrences(sent, "CONFIRM"), 1u) << sent;
    const std::string prefix = to_hex(std::span(digest).first(8));
    EXPECT_NE(sent.find("SETDESC " + self_exe() + " (pid " + std::to_string(::getpid()) + ", uid " +
                        std::to_string(::getuid()) + ")%0Aasks trustkeyd to sign with key \"releases\" (" +
                        key.id().substr(0, 12) + ") on token \"hsm\".%0ADigest: SHA-256 " + prefix + "...%0A"),
              std::string::npos)
        << sent;
    EXPECT_NE(sent.find("SETOK Yes\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("SETCANCEL No\n"), std::string::npos) << sent;

    // Each use asks again (per request, as ssh-agent): no is denied, nothing is signed.
    answer("no");
    std::string why;
    EXPECT_EQ(request_status([&] { c.sign(key.id(), pb::HASH_SHA256, digest); }, &why), pb::STATUS_DENIED);
    EXPECT_NE(why.find("the use of key \"releases\" (" + key.id().substr(0, 12) + ") was not confirmed: refused"),
              std::string::npos)
        << why;
    answer("cancel");
    EXPECT_EQ(request_status([&] { c.sign(key.id(), pb::HASH_SHA256, digest); }), pb::STATUS_DENIED);
    EXPECT_EQ(occurrences(asked(), "CONFIRM"), 3u) << asked();

    // The key without a constraint signs without a question; the connection is still good.
    const auto plain = c.sign(other.id(), pb::HASH_SHA256, digest);
    expect_valid_signature(other, pb::HASH_SHA256, digest, plain.signature());
    for (int i = 0; i < 5; ++i) c.sign("other", pb::HASH_SHA256, digest_of("more " + std::to_string(i)));
    EXPECT_EQ(occurrences(asked(), "CONFIRM"), 3u) << asked();

    // Named by an id prefix, it still asks.
    answer("yes");
    c.sign(key.id().substr(0, 10), pb::HASH_SHA256, digest);
    EXPECT_EQ(occurrences(asked(), "CONFIRM"), 4u) << asked();
    stop_and_check();
    EXPECT_NE(m_daemon->log().find("op=confirm"), std::string::npos) << m_daemon->log();
    EXPECT_NE(m_daemon->log().find("status=denied key="), std::string::npos) << m_daemon->log();
}

TEST_F(KeyConstraintsTest, ABatchAsksOnceForAllItsDigests) {
    start_daemon("[[key_constraint]]\nkey = \"rel*\"\nconfirm = true\n");
    auto c = client();
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    std::vector<std::vector<std::uint8_t>> items;
    for (int i = 0; i < 20; ++i) items.push_back(digest_of("tag " + std::to_string(i)));

    // Twenty items are signed in parts (batch_chunk 8): one question for the whole batch.
    answer("yes");
    const auto reply = c.sign_batch(key.id(), pb::HASH_SHA256, items);
    ASSERT_EQ(reply.signatures_size(), 20);
    for (int i = 0; i < 20; ++i)
        expect_valid_signature(key, pb::HASH_SHA256, items[static_cast<std::size_t>(i)], reply.signatures(i));
    std::string sent = asked();
    EXPECT_EQ(occurrences(sent, "CONFIRM"), 1u) << sent;
    EXPECT_NE(sent.find("asks trustkeyd to sign 20 digests with key \"releases\""), std::string::npos) << sent;
    EXPECT_NE(sent.find("First digest: SHA-256 " + to_hex(std::span(items[0]).first(8)) + "..."), std::string::npos)
        << sent;

    // A small batch (signed whole) also asks once; refused, nothing is signed.
    answer("no");
    const std::vector<std::vector<std::uint8_t>> few(items.begin(), items.begin() + 3);
    EXPECT_EQ(request_status([&] { c.sign_batch(key.id(), pb::HASH_SHA256, few); }), pb::STATUS_DENIED);
    EXPECT_EQ(request_status([&] { c.sign_batch(key.id(), pb::HASH_SHA256, items); }), pb::STATUS_DENIED);
    EXPECT_EQ(occurrences(asked(), "CONFIRM"), 3u) << asked();
    expect_serves();
}

TEST_F(KeyConstraintsTest, NoAnswerInTimeIsDenied) {
    m_answer_within = 1;
    start_daemon("[[key_constraint]]\nkey = \"releases\"\nconfirm = true\n");
    auto c = client();
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    answer("hang");
    std::string why;
    EXPECT_EQ(request_status([&] { c.sign(key.id(), pb::HASH_SHA256, digest_of("x")); }, &why), pb::STATUS_DENIED);
    EXPECT_NE(why.find("was not confirmed: nobody answered the confirmation in time"), std::string::npos) << why;
    answer("yes");
    c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
}

TEST_F(KeyConstraintsTest, OneQuestionAtATime) {
    start_daemon("[[key_constraint]]\nkey = \"releases\"\nconfirm = true\n");
    const auto key = client().generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    answer("yes");
    // Four clients at once on a token with two workers: each question is asked after the
    // one before has been answered (each pinentry's conversation is whole in the log).
    std::vector<std::future<pb::SignReply>> signs;
    for (int i = 0; i < 4; ++i)
        signs.push_back(std::async(std::launch::async, [&, i] {
            return client().sign(key.id(), pb::HASH_SHA256, digest_of("tag " + std::to_string(i)));
        }));
    for (auto& s : signs) EXPECT_FALSE(s.get().signature().empty());
    const std::string sent = asked();
    EXPECT_EQ(occurrences(sent, "CONFIRM"), 4u) << sent;
    std::size_t at = 0;
    for (int i = 0; i < 4; ++i) {
        const auto pid = sent.find("PID ", at);
        ASSERT_NE(pid, std::string::npos) << sent;
        const auto next = sent.find("PID ", pid + 1);
        const std::string conversation = sent.substr(pid, next == std::string::npos ? std::string::npos : next - pid);
        EXPECT_EQ(occurrences(conversation, "CONFIRM"), 1u) << conversation;
        EXPECT_NE(conversation.find("BYE"), std::string::npos) << conversation;
        at = pid + 1;
    }
}

TEST_F(KeyConstraintsTest, WithoutPinentryAConfirmedKeyIsDeniedSayingWhy) {
    start_daemon("[[key_constraint]]\nkey = \"releases\"\nconfirm = true\n", true, "none");
    auto c = client();
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    std::string why;
    EXPECT_EQ(request_status([&] { c.sign(key.id(), pb::HASH_SHA256, digest_of("x")); }, &why), pb::STATUS_DENIED);
    EXPECT_NE(why.find("was not confirmed: no pinentry is configured"), std::string::npos) << why;
    EXPECT_EQ(asked(), "");
}

TEST_F(KeyConstraintsTest, AMissingPinentryProgramIsDenied) {
    start_daemon("[[key_constraint]]\nkey = \"releases\"\nconfirm = true\n", true, "/nonexistent/pinentry");
    auto c = client();
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    std::string why;
    EXPECT_EQ(request_status([&] { c.sign(key.id(), pb::HASH_SHA256, digest_of("x")); }, &why), pb::STATUS_DENIED);
    EXPECT_NE(why.find("was not confirmed: pinentry could not ask for confirmation"), std::string::npos) << why;
    EXPECT_TRUE(m_daemon->running());
}

TEST_F(KeyConstraintsTest, RealPinentryTtyConfirmsWithYAndRefusesWithN) {
    PtyTerminal terminal;
    start_daemon("[[key_constraint]]\nkey = \"releases\"\nconfirm = true\n", true, "pinentry-tty",
                 {"GPG_TTY=" + terminal.name(), "TERM=dumb"});
    const auto key = client().generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    const auto digest = digest_of("release 2.0");

    auto signed_ = std::async(std::launch::async, [&] { return client().sign(key.id(), pb::HASH_SHA256, digest); });
    ASSERT_TRUE(terminal.wait_for("[yn]", 20s)) << terminal.output();
    EXPECT_NE(terminal.output().find("asks trustkeyd to sign with key \"releases\" (" + key.id().substr(0, 12) + ")"),
              std::string::npos)
        << terminal.output();
    EXPECT_NE(terminal.output().find(self_exe() + " (pid " + std::to_string(::getpid())), std::string::npos)
        << terminal.output();
    EXPECT_NE(terminal.output().find("Digest: SHA-256 " + to_hex(std::span(digest).first(8))), std::string::npos)
        << terminal.output();
    terminal.type("y");
    expect_valid_signature(key, pb::HASH_SHA256, digest, signed_.get().signature());

    const std::size_t shown_before = terminal.output().size();
    auto refused = std::async(std::launch::async, [&] {
        return request_status([&] { client().sign(key.id(), pb::HASH_SHA256, digest); });
    });
    ASSERT_TRUE(terminal.wait_for("[yn]", 20s, shown_before)) << terminal.output();
    terminal.type("n");
    EXPECT_EQ(refused.get(), pb::STATUS_DENIED);
}

TEST_F(KeyConstraintsTest, TheLoginEndsAfterTheLifetimeAndTheNextUseAsksAgain) {
    type("4321");
    start_daemon("[[key_constraint]]\nkey = \"releases\"\nlifetime_seconds = 2\n", false);
    auto c = client();
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);  // asks the PIN: the login begins
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 1u) << asked();
    expect_valid_signature(key, pb::HASH_SHA256, digest_of("x"), c.sign(key.id(), pb::HASH_SHA256, digest_of("x")).signature());
    const auto during = c.status();
    EXPECT_TRUE(during.tokens(0).logged_in());
    EXPECT_EQ(during.tokens(0).login_lifetime_seconds(), 2u);
    EXPECT_GE(during.tokens(0).login_ends_in_seconds(), 1u);
    EXPECT_LE(during.tokens(0).login_ends_in_seconds(), 2u);

    // After it: logged out, the PIN typed forgotten (though pin_cache_seconds would keep it).
    const auto deadline = std::chrono::steady_clock::now() + 6s;
    while (c.status().tokens(0).logged_in() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    const auto after = c.status();
    EXPECT_FALSE(after.tokens(0).logged_in());
    EXPECT_EQ(after.tokens(0).login_ends_in_seconds(), 0u);
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 1u) << "ending the login asks nothing";

    // The next use asks for the PIN again, and a new login begins.
    expect_valid_signature(key, pb::HASH_SHA256, digest_of("y"), c.sign(key.id(), pb::HASH_SHA256, digest_of("y")).signature());
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 2u) << asked();
    EXPECT_TRUE(c.status().tokens(0).logged_in());
    stop_and_check();
    EXPECT_EQ(occurrences(m_daemon->log(), "event=login_lifetime_ended backend=\"hsm\" lifetime_seconds=2"), 1u)
        << m_daemon->log();
}

TEST_F(KeyConstraintsTest, ALoginGivenByHandEndsToo) {
    start_daemon("[[key_constraint]]\nkey = \"releases\"\nlifetime_seconds = 1\n", false, "none");
    auto c = client();
    c.login("hsm", "4321");
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (c.status().tokens(0).logged_in() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    EXPECT_EQ(request_status([&] { c.sign(key.id(), pb::HASH_SHA256, digest_of("y")); }), pb::STATUS_PIN_REQUIRED);
    c.login("hsm", "4321");
    c.sign(key.id(), pb::HASH_SHA256, digest_of("z"));
}

TEST_F(KeyConstraintsTest, AConfiguredPinLogsInAgainAfterTheLifetime) {
    start_daemon("[[key_constraint]]\nkey = \"releases\"\nlifetime_seconds = 1\n");
    auto c = client();
    const auto key = c.generate_key("releases", pb::KEY_TYPE_ECDSA_P256);
    c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
    // (A status would log in again with the pin_file: the daemon's log says when it ended.)
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (m_daemon->log().find("event=login_lifetime_ended") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    EXPECT_NE(m_daemon->log().find("event=login_lifetime_ended backend=\"hsm\" lifetime_seconds=1"),
              std::string::npos);
    // The pin_file logs in again, asking nobody.
    expect_valid_signature(key, pb::HASH_SHA256, digest_of("y"), c.sign(key.id(), pb::HASH_SHA256, digest_of("y")).signature());
    EXPECT_EQ(asked(), "");
}

} // namespace
} // namespace trustkey::test
