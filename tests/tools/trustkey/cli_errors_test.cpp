// Usage errors, a daemon that is not running, key references that match no key
// or several, status, and login with a wrong PIN against a configured token; a
// configured token whose PIN is refused, named by every command.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "trustkey/proto/client.h"

#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/cli_expect.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {
namespace {

TEST(Usage, VersionAndHelpExitZero) {
    const auto v = run_trustkey({"--version"});
    EXPECT_EQ(v.exit_code, 0) << describe(v);
    EXPECT_EQ(v.out.rfind("trustkey ", 0), 0u) << v.out;
    const auto h = run_trustkey({"--help"});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("sign"), std::string::npos);
}

TEST(Usage, ParseErrorsExitTwoWithOneLine) {
    TempDir dir;
    const std::string sock = (dir / "absent.sock").string();
    const std::vector<std::vector<std::string>> bad = {
        {},
        {"frobnicate"},
        {"key"},
        {"key", "generate"},
        {"key", "generate", "k", "--type", "dsa"},
        {"key", "public", "k", "--format", "xml"},
        {"key", "list", "--no-such-flag"},
        {"status", "extra"},
    };
    for (const auto& args : bad) {
        std::vector<std::string> full{"--socket", sock};
        full.insert(full.end(), args.begin(), args.end());
        const auto r = run_trustkey(full);
        EXPECT_TRUE(failed_with_one_line(r, 2)) << "args: " << ::testing::PrintToString(args);
    }
}

TEST(Usage, UnknownCommandIsNamed) {
    const auto r = run_trustkey({"--socket", "/nonexistent/s.sock", "key", "frobnicate"});
    EXPECT_TRUE(failed_with_one_line(r, 2));
    EXPECT_EQ(r.err.rfind("trustkey: unknown command 'frobnicate' for 'trustkey key'", 0), 0u) << r.err;
}

TEST(DaemonNotRunning, FailsWithOneLineNamingTheSocket) {
    TempDir dir;
    const std::string sock = (dir / "nobody-here.sock").string();
    for (const auto& args : std::vector<std::vector<std::string>>{{"key", "list"}, {"status"},
                                                                    {"sign", "k", "--digest", std::string(64, 'a')}}) {
        std::vector<std::string> full{"--socket", sock};
        full.insert(full.end(), args.begin(), args.end());
        const auto r = run_trustkey(full);
        EXPECT_TRUE(failed_with_one_line(r, 1));
        EXPECT_NE(r.err.find("trustkeyd is not running at " + sock), std::string::npos) << r.err;
    }
}

TEST(DaemonNotRunning, SocketFromEnvironmentIsUsedByDefault) {
    TempDir dir;
    const std::string sock = (dir / "env.sock").string();
    const auto r = run_process({trustkey_cli_path(), "key", "list"}, {.env = {"TRUSTKEY_SOCK=" + sock}});
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_NE(r.err.find(sock), std::string::npos) << r.err;
}

TEST(KeyReference, UnknownKeyFailsWithOneLine) {
    CliDaemon daemon;
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "present"})));
    const auto r = daemon.trustkey({"key", "public", "abc1234"});
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_EQ(r.err, "trustkey: unknown key 'abc1234'\n");
    EXPECT_TRUE(failed_with_one_line(daemon.trustkey({"key", "delete", "absent-name", "--yes"}), 1));
}

TEST(KeyReference, ShortIdPrefixSaysItIsTooShort) {
    CliDaemon daemon;
    const auto gen = daemon.trustkey({"key", "generate", "present"});
    ASSERT_TRUE(succeeded(gen));
    const std::string prefix = chomp(gen.out).substr(0, 6);
    const std::string expected =
        "trustkey: key id prefix '" + prefix + "' is too short: give at least 7 hex digits, or the key's name\n";
    const auto pub = daemon.trustkey({"key", "public", prefix});
    EXPECT_TRUE(failed_with_one_line(pub, 1));
    EXPECT_EQ(pub.err, expected);
    const auto sig = daemon.trustkey({"sign", prefix, "--digest", std::string(64, 'a')});
    EXPECT_TRUE(failed_with_one_line(sig, 1));
    EXPECT_EQ(sig.err, expected);
    // Seven digits are enough.
    EXPECT_TRUE(succeeded(daemon.trustkey({"key", "public", chomp(gen.out).substr(0, 7)})));
}

TEST(KeyReference, AmbiguousReferenceListsTheCandidates) {
    CliDaemon daemon;
    const auto first = daemon.trustkey({"key", "generate", "first"});
    ASSERT_TRUE(succeeded(first));
    const std::string id = chomp(first.out);
    // A second key named like a prefix of the first key's id: the prefix matches both.
    const std::string prefix = id.substr(0, 8);
    const auto second = daemon.trustkey({"key", "generate", prefix});
    ASSERT_TRUE(succeeded(second));
    const std::string id2 = chomp(second.out);

    const auto r = daemon.trustkey({"key", "public", prefix});
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_EQ(r.err.rfind("trustkey: '" + prefix + "' is ambiguous: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(id + " first"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(id2 + " " + prefix), std::string::npos) << r.err;
    // Signing with it is refused the same way; the full id still works.
    EXPECT_TRUE(failed_with_one_line(daemon.trustkey({"sign", prefix, "--digest", std::string(64, '0')}), 1));
    EXPECT_TRUE(succeeded(daemon.trustkey({"sign", id, "--digest", std::string(64, '0')})));
}

TEST(Status, ReportsTheEmbeddedToken) {
    CliDaemon daemon;
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "a"})));
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "b", "--type", "ed25519"})));

    const auto text = daemon.trustkey({"status"});
    ASSERT_TRUE(succeeded(text));
    EXPECT_NE(text.out.find("trustkeyd"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("BACKEND"), std::string::npos) << text.out;

    const auto json = daemon.trustkey({"status", "--json"});
    ASSERT_TRUE(succeeded(json));
    const auto s = nlohmann::json::parse(json.out);
    EXPECT_EQ(s["protocol_version"], 1);
    EXPECT_EQ(s["server"].get<std::string>().rfind("trustkeyd", 0), 0u) << s.dump();
    EXPECT_EQ(s["dropped_requests"], 0) << s.dump();
    EXPECT_GE(s["threads"].get<int>(), 2) << s.dump();
    ASSERT_EQ(s["tokens"].size(), 1u) << s.dump();
    const auto& t = s["tokens"][0];
    EXPECT_EQ(t["backend"], "trustkey");
    EXPECT_EQ(t["kind"], "pkcs11");
    EXPECT_EQ(t["present"], true);
    EXPECT_EQ(t["logged_in"], true);
    EXPECT_EQ(t["key_count"], 2);
    EXPECT_EQ(t["pin_locked"], false);
}

// A daemon whose only token has no PIN source and no pinentry: it waits for `trustkey login`.
class Login : public ::testing::Test {
protected:
    SoftHsmToken m_token{"cli-login", "24681357", "13572468"};
    std::unique_ptr<CliDaemon> m_daemon;

    void SetUp() override {
        const std::string toml = "pinentry = \"none\"\n[[pkcs11]]\nname = \"hsm\"\nmodule = \"" + SoftHsmToken::module() +
                                 "\"\ntoken = \"" + m_token.uri() + "\"\n";
        m_daemon = std::make_unique<CliDaemon>(CliDaemon::Options{
            .config_toml = toml, .env = {"SOFTHSM2_CONF=" + m_token.conf_path().string()}});
    }
};

TEST_F(Login, WrongPinFailsThenRightPinUnlocksTheToken) {
    // Not logged in yet: operations that need the token say how to log in.
    const auto early = m_daemon->trustkey({"key", "generate", "k"});
    EXPECT_TRUE(failed_with_one_line(early, 1));
    EXPECT_NE(early.err.find("login"), std::string::npos) << early.err;

    const auto wrong = m_daemon->trustkey({"login", "--backend", "hsm"}, {.env = {"TRUSTKEY_PIN=00000000"}});
    EXPECT_TRUE(failed_with_one_line(wrong, 1));
    EXPECT_EQ(wrong.err.rfind("trustkey: wrong PIN for token 'hsm'", 0), 0u) << wrong.err;

    const auto status = nlohmann::json::parse(m_daemon->trustkey({"status", "--json"}).out);
    EXPECT_EQ(status["tokens"][0]["logged_in"], false) << status.dump();

    const auto right = m_daemon->trustkey({"login", "--backend", "hsm"}, {.env = {"TRUSTKEY_PIN=" + m_token.user_pin()}});
    EXPECT_EQ(right.exit_code, 0) << describe(right);
    EXPECT_TRUE(succeeded(m_daemon->trustkey({"key", "generate", "k"})));
    EXPECT_EQ(nlohmann::json::parse(m_daemon->trustkey({"status", "--json"}).out)["tokens"][0]["logged_in"], true);
}

TEST_F(Login, PinFromStdinAndDefaultBackend) {
    const auto wrong = m_daemon->trustkey({"login"}, {.unset = {"TRUSTKEY_PIN"}, .stdin_data = "99999999\n"});
    EXPECT_TRUE(failed_with_one_line(wrong, 1));
    EXPECT_EQ(wrong.err.rfind("trustkey: wrong PIN for token 'hsm'", 0), 0u) << wrong.err;
    const auto none = m_daemon->trustkey({"login"}, {.unset = {"TRUSTKEY_PIN"}});
    EXPECT_TRUE(failed_with_one_line(none, 1));
    const auto right = m_daemon->trustkey({"login"}, {.unset = {"TRUSTKEY_PIN"}, .stdin_data = m_token.user_pin() + "\n"});
    EXPECT_EQ(right.exit_code, 0) << describe(right);
    EXPECT_TRUE(succeeded(m_daemon->trustkey({"key", "generate", "k", "--type", "ed25519"})));
}

TEST_F(Login, UnknownBackendFailsWithOneLine) {
    const auto r = m_daemon->trustkey({"login", "--backend", "nope"}, {.env = {"TRUSTKEY_PIN=1"}});
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_NE(r.err.find("'nope'"), std::string::npos) << r.err;
    const auto gen = m_daemon->trustkey({"key", "generate", "k", "--backend", "nope"});
    EXPECT_TRUE(failed_with_one_line(gen, 1));
    EXPECT_NE(gen.err.find("'nope'"), std::string::npos) << gen.err;
}

// A [[pkcs11]] token named "yubi" whose PIN comes from a pin_file.
class ConfiguredToken : public ::testing::Test {
protected:
    SoftHsmToken m_token{"cli-yubi", "24681357", "13572468"};
    TempDir m_dir;
    std::string m_pin_file = (m_dir / "pin").string();

    void write_pin(const std::string& pin) const { std::ofstream(m_pin_file, std::ios::trunc) << pin; }

    // `top`: settings before the token's table; `extra`: tables after it.
    std::unique_ptr<CliDaemon> start(const std::string& extra = {}, const std::string& top = {}) const {
        const std::string toml = top + "[[pkcs11]]\nname = \"yubi\"\nmodule = \"" + SoftHsmToken::module() +
                                 "\"\ntoken = \"" + m_token.uri() + "\"\npin_file = \"" + m_pin_file + "\"\n" +
                                 extra;
        return std::make_unique<CliDaemon>(CliDaemon::Options{
            .config_toml = toml, .env = {"SOFTHSM2_CONF=" + m_token.conf_path().string()}});
    }
};

TEST_F(ConfiguredToken, WrongPinAtLoginKeepsTheWorkingLogin) {
    write_pin(m_token.user_pin());
    const auto daemon = start();
    ASSERT_TRUE(succeeded(daemon->trustkey({"key", "generate", "kept"})));

    const auto wrong = daemon->trustkey({"login"}, {.unset = {"TRUSTKEY_PIN"}, .stdin_data = "0000\n"});
    EXPECT_TRUE(failed_with_one_line(wrong, 1));
    EXPECT_EQ(wrong.err.rfind("trustkey: wrong PIN for token 'yubi'", 0), 0u) << wrong.err;
    EXPECT_NE(wrong.err.find("stays logged in"), std::string::npos) << wrong.err;

    // The token was not logged out: signing and listing work as before.
    EXPECT_TRUE(succeeded(daemon->trustkey({"sign", "kept", "--digest", std::string(64, 'a')})));
    const auto list = daemon->trustkey({"key", "list"});
    EXPECT_TRUE(succeeded(list));
    EXPECT_NE(list.out.find("kept"), std::string::npos) << list.out;
    const auto status = nlohmann::json::parse(daemon->trustkey({"status", "--json"}).out);
    EXPECT_EQ(status["tokens"][0]["logged_in"], true) << status.dump();
    EXPECT_TRUE(status["tokens"][0]["pin_refused"].is_null()) << status.dump();
    EXPECT_EQ(status["tokens"][0]["error"], "") << status.dump();

    // The right PIN is accepted while logged in, and the token stays usable.
    const auto right = daemon->trustkey({"login"}, {.unset = {"TRUSTKEY_PIN"}, .stdin_data = m_token.user_pin() + "\n"});
    EXPECT_TRUE(succeeded(right));
    EXPECT_TRUE(succeeded(daemon->trustkey({"sign", "kept", "--digest", std::string(64, 'b')})));
}

TEST_F(ConfiguredToken, LockRefusesSigningInOneLineAndUnlockTakesTheTokensPin) {
    write_pin(m_token.user_pin());
    const auto daemon = start();
    ASSERT_TRUE(succeeded(daemon->trustkey({"key", "generate", "guarded"})));

    const auto lock = daemon->trustkey({"lock"});
    EXPECT_TRUE(succeeded(lock));
    EXPECT_EQ(lock.out, "trustkeyd is locked\n");
    const auto status = nlohmann::json::parse(daemon->trustkey({"status", "--json"}).out);
    EXPECT_EQ(status["locked"], true) << status.dump();
    EXPECT_EQ(status["tokens"][0]["logged_in"], false) << status.dump();
    EXPECT_NE(daemon->trustkey({"status"}).out.find("Locked:       yes"), std::string::npos);

    const auto refused = daemon->trustkey({"sign", "guarded", "--digest", std::string(64, 'a')});
    EXPECT_TRUE(failed_with_one_line(refused, 1));
    EXPECT_EQ(refused.err, "trustkey: trustkeyd is locked; run `trustkey unlock`\n");
    // `trustkey login` does not get round the lock.
    const auto login = daemon->trustkey({"login"}, {.env = {"TRUSTKEY_PIN=" + m_token.user_pin()}});
    EXPECT_TRUE(failed_with_one_line(login, 1));
    EXPECT_NE(login.err.find("trustkey unlock"), std::string::npos) << login.err;

    const auto wrong = daemon->trustkey({"unlock"}, {.unset = {"TRUSTKEY_PIN"}, .stdin_data = "0000\n"});
    EXPECT_TRUE(failed_with_one_line(wrong, 1));
    EXPECT_EQ(wrong.err.rfind("trustkey: wrong PIN for token 'yubi'", 0), 0u) << wrong.err;
    EXPECT_TRUE(failed_with_one_line(daemon->trustkey({"sign", "guarded", "--digest", std::string(64, 'a')}), 1));

    const auto right = daemon->trustkey({"unlock"}, {.unset = {"TRUSTKEY_PIN"}, .stdin_data = m_token.user_pin() + "\n"});
    EXPECT_TRUE(succeeded(right));
    EXPECT_EQ(right.out, "trustkeyd is unlocked with the PIN of token 'yubi'\n");
    EXPECT_TRUE(succeeded(daemon->trustkey({"sign", "guarded", "--digest", std::string(64, 'b')})));
    EXPECT_EQ(nlohmann::json::parse(daemon->trustkey({"status", "--json"}).out)["locked"], false);
}

TEST_F(ConfiguredToken, AnUnconfirmedUseIsOneLineNamingTheKey) {
    write_pin(m_token.user_pin());
    // Nobody to ask: every use of the key is refused as not confirmed.
    const auto daemon = start("[[key_constraint]]\nkey = \"guarded\"\nconfirm = true\n", "pinentry = \"none\"\n");
    ASSERT_TRUE(succeeded(daemon->trustkey({"key", "generate", "guarded"})));
    const auto refused = daemon->trustkey({"sign", "guarded", "--digest", std::string(64, 'a')});
    EXPECT_TRUE(failed_with_one_line(refused, 1));
    EXPECT_EQ(refused.err.rfind("trustkey: the use of key \"guarded\" (", 0), 0u) << refused.err;
    EXPECT_NE(refused.err.find(") was not confirmed: no pinentry is configured to ask"), std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("(the key asks for confirmation of each use through pinentry)\n"), std::string::npos)
        << refused.err;
}

TEST_F(ConfiguredToken, StatusShowsTheLoginLifetime) {
    write_pin(m_token.user_pin());
    const auto daemon = start("[[key_constraint]]\nkey = \"short-*\"\nlifetime_seconds = 600\n");
    ASSERT_TRUE(succeeded(daemon->trustkey({"key", "generate", "short-lived"})));
    ASSERT_TRUE(succeeded(daemon->trustkey({"sign", "short-lived", "--digest", std::string(64, 'a')})));
    const auto status = nlohmann::json::parse(daemon->trustkey({"status", "--json"}).out);
    EXPECT_EQ(status["tokens"][0]["login_lifetime_seconds"], 600) << status.dump();
    EXPECT_GE(status["tokens"][0]["login_ends_in_seconds"].get<int>(), 590) << status.dump();
    EXPECT_NE(daemon->trustkey({"status"}).out.find("Token 'yubi' stays logged in for "), std::string::npos);
}

TEST_F(ConfiguredToken, RefusedConfiguredPinIsNamedByEveryCommand) {
    write_pin(m_token.user_pin());
    {
        const auto first = start();
        ASSERT_TRUE(succeeded(first->trustkey({"key", "generate", "signer"})));
    }
    write_pin("11112222");
    const auto daemon = start();
    const std::string hint = "trustkey login --backend yubi";

    // key list: not an empty table, but one line naming the token and why; exit 1.
    for (const auto& args : std::vector<std::vector<std::string>>{{"key", "list"}, {"key", "list", "--json"}}) {
        const auto list = daemon->trustkey(args);
        EXPECT_TRUE(failed_with_one_line(list, 1)) << ::testing::PrintToString(args);
        EXPECT_NE(list.err.find("token 'yubi'"), std::string::npos) << list.err;
        EXPECT_NE(list.err.find("configuration"), std::string::npos) << list.err;
        EXPECT_NE(list.err.find(hint), std::string::npos) << list.err;
    }

    // sign, key generate and trust key generate name the token that refused and what to run.
    const auto sign = daemon->trustkey({"sign", "signer", "--digest", std::string(64, 'a')});
    const auto gen = daemon->trustkey({"key", "generate", "another"});
    const auto trust_gen = daemon->trustkey({"trust", "key", "generate", "alice", "--dir", m_dir.path().string()});
    for (const auto* r : {&sign, &gen, &trust_gen}) {
        EXPECT_EQ(r->exit_code, 1) << describe(*r);
        EXPECT_EQ(r->err_lines(), 1u) << describe(*r);
        EXPECT_EQ(r->err.rfind("trustkey: wrong PIN for token 'yubi'", 0), 0u) << r->err;
        EXPECT_NE(r->err.find("configuration"), std::string::npos) << r->err;
        EXPECT_NE(r->err.find(hint), std::string::npos) << r->err;
        EXPECT_EQ(r->err.find("'default'"), std::string::npos) << r->err;
    }

    // status says it was the configured PIN.
    const auto text = daemon->trustkey({"status"});
    EXPECT_TRUE(succeeded(text));
    EXPECT_NE(text.out.find("Token 'yubi' refused the PIN in trustkeyd's configuration"), std::string::npos)
        << text.out;
    auto status = nlohmann::json::parse(daemon->trustkey({"status", "--json"}).out);
    EXPECT_EQ(status["tokens"][0]["pin_refused"], "configured") << status.dump();
    EXPECT_NE(status["tokens"][0]["error"].get<std::string>().find("configured PIN (pin_file " + m_pin_file + ")"),
              std::string::npos)
        << status.dump();

    // A wrong PIN typed at login: now status says that one was refused.
    const auto wrong = daemon->trustkey({"login"}, {.unset = {"TRUSTKEY_PIN"}, .stdin_data = "0000\n"});
    EXPECT_TRUE(failed_with_one_line(wrong, 1));
    EXPECT_EQ(wrong.err.rfind("trustkey: wrong PIN for token 'yubi'", 0), 0u) << wrong.err;
    const auto text2 = daemon->trustkey({"status"});
    EXPECT_NE(text2.out.find("Token 'yubi' refused the PIN given to trustkey login"), std::string::npos) << text2.out;
    EXPECT_EQ(text2.out.find("configuration"), std::string::npos) << text2.out;
    status = nlohmann::json::parse(daemon->trustkey({"status", "--json"}).out);
    EXPECT_EQ(status["tokens"][0]["pin_refused"], "login") << status.dump();
    const auto list = daemon->trustkey({"key", "list"});
    EXPECT_TRUE(failed_with_one_line(list, 1));
    EXPECT_NE(list.err.find("the PIN given to trustkey login"), std::string::npos) << list.err;

    // The right PIN brings the keys back.
    ASSERT_TRUE(succeeded(daemon->trustkey({"login"}, {.unset = {"TRUSTKEY_PIN"}, .stdin_data = m_token.user_pin() + "\n"})));
    const auto back = daemon->trustkey({"key", "list"});
    EXPECT_TRUE(succeeded(back));
    EXPECT_NE(back.out.find("signer"), std::string::npos) << back.out;
}

// A connection the daemon accepted and serves (its Hello answered), holding a slot: the client
// library waits out a cap still taken by the fixture's own readiness check.
proto::Client held_connection(const std::filesystem::path& socket) {
    return proto::Client::connect(socket.string());
}

TEST(Busy, ADaemonAtItsConnectionCapIsReportedInOneLine) {
    CliDaemon daemon(CliDaemon::Options{.config_toml = "max_connections = 1\n"});
    const proto::Client held = held_connection(daemon.socket_path());
    const auto started = std::chrono::steady_clock::now();
    const auto r = daemon.trustkey({"status"});
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_NE(r.err.find("trustkeyd is busy (at its connection cap or its queue for the key is full); try again"),
              std::string::npos)
        << r.err;
    // Tried again with backoff first, for a bounded time.
    EXPECT_GE(took, std::chrono::milliseconds(300));
    EXPECT_LT(took, std::chrono::seconds(10));
}

} // namespace
} // namespace trustkey::test
