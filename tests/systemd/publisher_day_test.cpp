// A publisher's day with trustkey on the desktop, end to end through the tools a user runs:
// trustkeyd started by socket activation (Debian's systemd-socket-activate, as the user
// socket unit does) with the configuration in $XDG_CONFIG_HOME; the first signature asks for
// the token's PIN through pinentry (a stand-in speaking Assuan), later ones do not; `trustkey
// lock` refuses keys until `trustkey unlock`; the token pulled out (a real SoftHSM2 token
// behind the unplug module, which shows it as OpenSC shows a pulled card) answers "token
// absent" and `trustkey status` says so; put back, it signs again without a restart.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/trustkeyd_home.h"
#include "tests/systemd/activation_support.h"
#include "tests/fixtures/fixture_io.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PublisherDay : public ::testing::Test {
protected:
    PublisherDay() {
        fs::create_directories(socket().parent_path());
        fs::permissions(socket().parent_path(), fs::perms::owner_all, fs::perm_options::replace);
        fs::create_directories(m_home.config() / "trustkey");
        std::ofstream(m_home.config() / "trustkey" / "trustkeyd.toml")
            << "pinentry = \"" << FAKE_PINENTRY_PATH << "\"\n"
            << "token_poll_seconds = 1\n"
            << "[[pkcs11]]\nname = \"yubikey\"\nmodule = \"" << UNPLUG_PKCS11_PATH << "\"\ntoken = \""
            << m_token.uri() << "\"\n";
        std::ofstream(m_home / "typed") << m_token.user_pin() << "\n";
    }
    void TearDown() override {
        const std::string text = read_file(journal());
        EXPECT_FALSE(has_sanitizer_report(text)) << text;
    }

    fs::path socket() const { return m_home.default_socket(); }
    fs::path journal() const { return m_home / "journal"; }
    fs::path pulled() const { return m_home / "pulled"; }
    std::string asked() const { return read_file(m_home / "asked"); }

    // What the socket unit does: listen, and start trustkeyd at the first connection.
    std::unique_ptr<BackgroundProcess> socket_unit() const {
        std::vector<std::string> argv{"systemd-socket-activate", "-l", socket().string()};
        for (auto& a : activator_env_args(
                 m_home, {"SOFTHSM2_CONF=" + m_token.conf_path().string(),
                          "TRUSTKEY_TEST_UNPLUG_FILE=" + pulled().string(), "TRUSTKEY_TEST_UNPLUG_TOKEN=yubikey",
                          "FAKE_PINENTRY_MODE=answer", "FAKE_PINENTRY_PIN_FILE=" + (m_home / "typed").string(),
                          "FAKE_PINENTRY_LOG=" + (m_home / "asked").string()}))
            argv.push_back(a);
        argv.push_back(TRUSTKEYD_PATH);
        return std::make_unique<BackgroundProcess>(argv, BackgroundOptions{.log_file = journal()});
    }

    // `trustkey ARGS` in the session, where environment.d has set TRUSTKEY_SOCK.
    ProcessResult trustkey(std::vector<std::string> args, std::string stdin_data = {}) const {
        args.insert(args.begin(), TRUSTKEY_CLI_PATH);
        return run_process(args, ProcessOptions{.env = {"TRUSTKEY_SOCK=" + socket().string()},
                                                .stdin_data = std::move(stdin_data),
                                                .timeout = 60s});
    }
    ProcessResult sign(const std::string& digest) const {
        return trustkey({"sign", "releases", "--digest", digest, "--hash", "sha256"});
    }
    // The token's entry in `trustkey status --json`.
    nlohmann::json token_status() const {
        const auto st = trustkey({"status", "--json"});
        EXPECT_EQ(st.exit_code, 0) << st.err;
        const auto json = nlohmann::json::parse(st.out);
        return json["tokens"].empty() ? nlohmann::json{} : json["tokens"][0];
    }
    // The signature `trustkey sign` printed checks out with OpenSSL against the key's PEM.
    void expect_verifies(const ProcessResult& signed_, const std::string& digest) const {
        ASSERT_EQ(signed_.exit_code, 0) << signed_.err;
        const auto pem = trustkey({"key", "public", "releases"});
        ASSERT_EQ(pem.exit_code, 0) << pem.err;
        std::ofstream(m_home / "releases.pem") << pem.out;
        // The TUF form of an ECDSA signature is r‖s: OpenSSL wants DER.
        std::string b64 = signed_.out;
        while (!b64.empty() && (b64.back() == '\n' || b64.back() == '\r')) b64.pop_back();
        const auto decoded = from_base64(b64);
        ASSERT_TRUE(decoded) << signed_.out;
        const auto& raw = *decoded;
        ASSERT_EQ(raw.size(), 64u);
        const auto der_int = [](const std::uint8_t* p) {
            std::vector<std::uint8_t> v(p, p + 32);
            while (v.size() > 1 && v[0] == 0 && v[1] < 0x80) v.erase(v.begin());
            if (v[0] >= 0x80) v.insert(v.begin(), 0);
            v.insert(v.begin(), static_cast<std::uint8_t>(v.size()));
            v.insert(v.begin(), 0x02);
            return v;
        };
        auto r = der_int(raw.data()), s = der_int(raw.data() + 32);
        std::vector<std::uint8_t> der{0x30, static_cast<std::uint8_t>(r.size() + s.size())};
        der.insert(der.end(), r.begin(), r.end());
        der.insert(der.end(), s.begin(), s.end());
        std::ofstream(m_home / "sig.der", std::ios::binary)
            .write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
        std::ofstream(m_home / "digest.bin", std::ios::binary) << hex_decode_string(digest);
        const auto v = run_process({"openssl", "pkeyutl", "-verify", "-pubin", "-inkey", (m_home / "releases.pem").string(),
                                    "-in", (m_home / "digest.bin").string(), "-sigfile", (m_home / "sig.der").string()});
        EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
        EXPECT_NE(v.out.find("Signature Verified Successfully"), std::string::npos) << v.out;
    }
    static std::string hex_decode_string(const std::string& hex) {
        const auto bytes = from_hex(hex);
        return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
    }

    SoftHsmToken m_token{"yubikey", "246810"};
    TrustkeydHome m_home{"trustkey-day"};
};

TEST_F(PublisherDay, FirstSignatureAsksLockUnlockPullAndPutBack) {
    // Morning: the session starts with the socket unit enabled; nothing runs until a client comes.
    auto unit = socket_unit();
    ASSERT_TRUE(wait_for([&] { return fs::exists(socket()); }, 60s)) << read_file(journal());
    EXPECT_NE(comm_of(unit->pid()), "trustkeyd");

    // The first use asks for the token's PIN through pinentry, naming the token and the use.
    ASSERT_EQ(trustkey({"key", "generate", "releases"}).exit_code, 0) << read_file(journal());
    EXPECT_EQ(comm_of(unit->pid()), "trustkeyd");
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 1u) << asked();
    EXPECT_NE(asked().find("yubikey"), std::string::npos) << asked();
    const std::string d1(64, 'a'), d2(64, 'b'), d3(64, 'c'), d4(64, 'd');
    expect_verifies(sign(d1), d1);
    expect_verifies(sign(d2), d2);
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 1u) << "later signatures do not ask: " << asked();

    // Away from the desk: locked, the key is refused in one line until unlocked.
    ASSERT_EQ(trustkey({"lock"}).exit_code, 0);
    const auto refused = sign(d3);
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_EQ(refused.err, "trustkey: trustkeyd is locked; run `trustkey unlock`\n") << refused.err;
    EXPECT_EQ(token_status()["logged_in"], false);
    const auto wrong = trustkey({"unlock"}, "000000\n");
    EXPECT_NE(wrong.exit_code, 0);
    EXPECT_NE(wrong.err.find("PIN"), std::string::npos) << wrong.err;
    EXPECT_NE(sign(d3).exit_code, 0) << "a wrong PIN leaves it locked";
    const auto unlocked = trustkey({"unlock"}, m_token.user_pin() + "\n");
    ASSERT_EQ(unlocked.exit_code, 0) << unlocked.err;
    expect_verifies(sign(d3), d3);

    // The token is pulled out: its key is "absent" (not "not found") and status shows it.
    std::ofstream(pulled()) << "out\n";
    const auto absent = sign(d4);
    EXPECT_EQ(absent.exit_code, 1);
    EXPECT_EQ(absent.err.rfind("trustkey: token absent: backend 'yubikey': token 'yubikey' (serial ", 0), 0u)
        << absent.err;
    EXPECT_NE(absent.err.find("plug it in"), std::string::npos) << absent.err;
    EXPECT_EQ(token_status()["present"], false);

    // Put back: trustkeyd finds it within token_poll_seconds and it signs again, same daemon.
    const pid_t daemon_pid = unit->pid();
    fs::remove(pulled());
    ASSERT_TRUE(wait_for([&] { return token_status()["present"] == true; }, 10s)) << read_file(journal());
    expect_verifies(sign(d4), d4);
    EXPECT_EQ(unit->pid(), daemon_pid);
    EXPECT_EQ(comm_of(daemon_pid), "trustkeyd");
    // The PIN given to unlock is not kept: after the token came back, pinentry asked once more.
    EXPECT_EQ(occurrences(asked(), "GETPIN"), 2u) << asked();
    // trustkeyd's own look at its tokens logs the pull and the return, once each.
    EXPECT_TRUE(wait_for([&] { return occurrences(read_file(journal()), "event=token_added") > 0; }, 5s))
        << read_file(journal());
    const std::string journal_text = read_file(journal());
    EXPECT_EQ(occurrences(journal_text, "event=token_removed"), 1u) << journal_text;
    EXPECT_EQ(occurrences(journal_text, "event=token_added"), 1u) << journal_text;

    // Evening: the session ends; trustkeyd stops cleanly and leaves the socket to the unit.
    EXPECT_EQ(unit->stop(30s), 0) << read_file(journal());
    EXPECT_TRUE(fs::exists(socket()));
}

} // namespace
} // namespace trustkey::test
