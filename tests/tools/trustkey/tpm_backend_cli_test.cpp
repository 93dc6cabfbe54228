// trustkey against a real trustkeyd with its embedded SoftHSM2 token and a TPM (a
// real swtpm, `trustkeyd --tpm`) at once: choosing the backend, listing it, signing,
// and the TPM going away and coming back while the daemon runs.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <regex>

#include <unistd.h>

#include "lib/core/encoding.h"
#include "tests/fixtures/swtpm.h"
#include "tests/tools/trustkey/cli_daemon.h"
#include "tests/tools/trustkey/cli_expect.h"
#include "tests/tools/trustkey/openssl_check.h"

namespace trustkey::test {
namespace {

const std::regex kFullId("^[0-9a-f]{64}$");

class TpmCli : public ::testing::Test {
protected:
    static Swtpm& swtpm() {
        static Swtpm instance;
        return instance;
    }
    static void SetUpTestSuite() { swtpm(); }

    static CliDaemon::Options with_tpm(const std::string& tcti) {
        CliDaemon::Options o;
        o.args = {"--tpm", tcti};
        return o;
    }
    // Signs a digest of `message` with `key` and checks the signature with openssl.
    static ::testing::AssertionResult signs(const CliDaemon& d, const std::string& key, const std::string& type) {
        const auto pem_file = d.dir() / (key + ".pem");
        const auto pub = d.trustkey({"key", "public", key});
        if (!succeeded(pub)) return ::testing::AssertionFailure() << "public: " << describe(pub);
        write_file(pem_file, pub.out);
        const ByteVec digest = sha256_bytes("{\"signed\":\"" + key + "\"}");
        const auto r = d.trustkey({"sign", key, "--digest", to_hex(digest)});
        if (!succeeded(r)) return ::testing::AssertionFailure() << "sign: " << describe(r);
        if (!openssl_verify(type, pem_file, digest, base64_decode(chomp(r.out)), d.dir()))
            return ::testing::AssertionFailure() << "openssl does not verify the signature of " << key;
        return ::testing::AssertionSuccess();
    }
    static nlohmann::json backend_status(const CliDaemon& d, const std::string& name) {
        const auto r = d.trustkey({"status", "--json"});
        EXPECT_TRUE(succeeded(r));
        const auto status = nlohmann::json::parse(r.out);
        for (const auto& t : status["tokens"])
            if (t["backend"] == name) return t;
        ADD_FAILURE() << "no backend " << name << " in " << r.out;
        return {};
    }
};

TEST_F(TpmCli, GenerateListSignOnTheTpmBesideTheToken) {
    CliDaemon daemon(with_tpm(swtpm().tcti()));
    const auto ec = daemon.trustkey({"key", "generate", "tpm-ec", "--backend", "tpm"});
    ASSERT_TRUE(succeeded(ec));
    const std::string ec_id = chomp(ec.out);
    ASSERT_TRUE(std::regex_match(ec_id, kFullId)) << ec.out;
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "tpm-rsa", "--type", "rsa", "--backend", "tpm"})));
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "soft", "--type", "rsa"})));

    const auto listed = daemon.trustkey({"key", "list", "--json"});
    ASSERT_TRUE(succeeded(listed));
    std::map<std::string, std::string> backend_of;
    for (const auto& k : nlohmann::json::parse(listed.out)) backend_of[k["name"]] = k["backend"];
    EXPECT_EQ(backend_of["tpm-ec"], "tpm");
    EXPECT_EQ(backend_of["tpm-rsa"], "tpm");
    EXPECT_EQ(backend_of["soft"], "trustkey");
    const auto table = daemon.trustkey({"key", "list"});
    ASSERT_TRUE(succeeded(table));
    EXPECT_TRUE(std::regex_search(table.out, std::regex(ec_id.substr(0, 12) + " +tpm-ec +ecdsa +tpm +-\n"))) << table.out;

    EXPECT_TRUE(signs(daemon, "tpm-ec", "ecdsa"));
    EXPECT_TRUE(signs(daemon, "tpm-rsa", "rsa"));
    EXPECT_TRUE(signs(daemon, "soft", "rsa"));

    // Ed25519 is not a TPM algorithm: one clear line, nothing made.
    const auto ed = daemon.trustkey({"key", "generate", "tpm-ed", "--type", "ed25519", "--backend", "tpm"});
    EXPECT_TRUE(failed_with_one_line(ed, 1));
    EXPECT_NE(ed.err.find("Ed25519 is not a TPM 2.0 algorithm"), std::string::npos) << ed.err;
    EXPECT_NE(ed.err.find("tpm"), std::string::npos) << ed.err;
    EXPECT_EQ(daemon.trustkey({"key", "list"}).out.find("tpm-ed"), std::string::npos);

    const auto st = backend_status(daemon, "tpm");
    EXPECT_EQ(st["kind"], "tpm2");
    EXPECT_EQ(st["present"], true);
    EXPECT_EQ(st["key_count"], 2);
    EXPECT_EQ(st["location"], swtpm().tcti());

    // Deleting a TPM key removes its blob; the other keys stay.
    const auto blob = daemon.dir() / "data" / "trustkey" / "tpm2" / "tpm" / (ec_id + ".tpmkey");
    EXPECT_TRUE(std::filesystem::exists(blob));
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "delete", "tpm-ec", "--yes"})));
    EXPECT_FALSE(std::filesystem::exists(blob));
    const auto after = daemon.trustkey({"key", "list"});
    EXPECT_EQ(after.out.find("tpm-ec"), std::string::npos) << after.out;
    EXPECT_NE(after.out.find("tpm-rsa"), std::string::npos) << after.out;
    EXPECT_TRUE(signs(daemon, "tpm-rsa", "rsa"));
}

TEST_F(TpmCli, TpmGoneMidRunThenBackWithoutRestartingTheDaemon) {
    CliDaemon daemon(with_tpm(swtpm().tcti()));
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "tpm-key", "--backend", "tpm"})));
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "soft-key"})));
    EXPECT_TRUE(signs(daemon, "tpm-key", "ecdsa"));

    swtpm().kill();
    const auto r = daemon.trustkey({"sign", "tpm-key", "--digest", to_hex(sha256_bytes("gone"))});
    EXPECT_TRUE(failed_with_one_line(r, 1)) << r.err;
    EXPECT_NE(r.err.find("unreachable"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("tpm-key"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("backend 'tpm'"), std::string::npos) << r.err;
    // The daemon stays up and the PKCS#11 key keeps working; status says which backend is down.
    EXPECT_TRUE(signs(daemon, "soft-key", "ecdsa"));
    const auto down = backend_status(daemon, "tpm");
    EXPECT_EQ(down["present"], false);
    EXPECT_NE(down["error"].get<std::string>().find("unreachable"), std::string::npos) << down.dump();
    EXPECT_EQ(backend_status(daemon, "trustkey")["present"], true);

    swtpm().start();
    EXPECT_TRUE(signs(daemon, "tpm-key", "ecdsa"));
    EXPECT_EQ(backend_status(daemon, "tpm")["present"], true);
}

TEST_F(TpmCli, UnreachableTpmAtStartDoesNotStopTheDaemon) {
    // Nothing listens on port 1 of the loopback.
    const std::string tcti = "swtpm:host=127.0.0.1,port=1";
    CliDaemon daemon(with_tpm(tcti));
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "soft-key"})));
    EXPECT_TRUE(signs(daemon, "soft-key", "ecdsa"));
    const auto st = backend_status(daemon, "tpm");
    EXPECT_EQ(st["present"], false);
    EXPECT_NE(st["error"].get<std::string>().find("unreachable"), std::string::npos) << st.dump();
    EXPECT_NE(daemon.log().find("event=backend_down backend=\"tpm\""), std::string::npos) << daemon.log();
    const auto r = daemon.trustkey({"key", "generate", "tpm-key", "--backend", "tpm"});
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_NE(r.err.find("unreachable"), std::string::npos) << r.err;
}

TEST_F(TpmCli, TpmTablesInTheConfigFile) {
    CliDaemon::Options o;
    o.config_toml = "[[tpm]]\nname = \"laptop-tpm\"\ntcti = \"" + swtpm().tcti() + "\"\nloaded_keys = 1\n";
    CliDaemon daemon(o);
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "k", "--backend", "laptop-tpm"})));
    EXPECT_TRUE(signs(daemon, "k", "ecdsa"));
    EXPECT_EQ(backend_status(daemon, "laptop-tpm")["kind"], "tpm2");
    // The blob is in the default state directory, under XDG_DATA_HOME.
    const auto listed = nlohmann::json::parse(daemon.trustkey({"key", "list", "--json"}).out);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_TRUE(std::filesystem::exists(daemon.dir() / "data" / "trustkey" / "tpm2" / "laptop-tpm" /
                                        (listed[0]["id"].get<std::string>() + ".tpmkey")));
}

TEST_F(TpmCli, WrongKeyAuthorizationIsOneClearLine) {
    CliDaemon::Options o;
    const auto auth_file = std::filesystem::path(::testing::TempDir()) / ("tpm-auth-" + std::to_string(::getpid()));
    write_file(auth_file, std::string("right-value\n"));
    o.config_toml = "[[tpm]]\nname = \"tpm\"\ntcti = \"" + swtpm().tcti() + "\"\nkey_auth_file = \"" +
                    auth_file.string() + "\"\n";
    CliDaemon daemon(o);
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "guarded", "--backend", "tpm"})));
    EXPECT_TRUE(signs(daemon, "guarded", "ecdsa"));

    write_file(auth_file, std::string("wrong-value\n"));
    const auto wrong = daemon.trustkey({"sign", "guarded", "--digest", to_hex(sha256_bytes("w"))});
    EXPECT_TRUE(failed_with_one_line(wrong, 1));
    EXPECT_NE(wrong.err.find("refused the authorization value"), std::string::npos) << wrong.err;
    EXPECT_NE(wrong.err.find("guarded"), std::string::npos) << wrong.err;
    EXPECT_NE(wrong.err.find("backend 'tpm'"), std::string::npos) << wrong.err;
    const auto again = daemon.trustkey({"sign", "guarded", "--digest", to_hex(sha256_bytes("w2"))});
    EXPECT_TRUE(failed_with_one_line(again, 1));
    EXPECT_NE(again.err.find("not sent again"), std::string::npos) << again.err;

    write_file(auth_file, std::string("right-value\n"));
    EXPECT_TRUE(signs(daemon, "guarded", "ecdsa"));
    std::filesystem::remove(auth_file);
}

TEST_F(TpmCli, KeyWithItsOwnAuthorizationValueIsUsedAfterLoginKey) {
    CliDaemon daemon(with_tpm(swtpm().tcti()));
    ProcessOptions right;
    right.env.push_back("TRUSTKEY_KEY_AUTH=own-secret-1");
    ProcessOptions wrong;
    wrong.env.push_back("TRUSTKEY_KEY_AUTH=not-the-value");
    const auto gen = daemon.trustkey({"key", "generate", "own", "--backend", "tpm", "--auth"}, right);
    ASSERT_TRUE(succeeded(gen));
    const std::string own_id = chomp(gen.out);
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "plain", "--backend", "tpm"})));
    const auto sign_own = [&] { return daemon.trustkey({"sign", "own", "--digest", to_hex(sha256_bytes("own"))}); };

    // Until its value is given the key is not used: one line naming it and saying how.
    const auto before = sign_own();
    EXPECT_TRUE(failed_with_one_line(before, 1));
    EXPECT_NE(before.err.find("trustkey login --key own"), std::string::npos) << before.err;
    EXPECT_NE(before.err.find("backend 'tpm'"), std::string::npos) << before.err;
    EXPECT_TRUE(signs(daemon, "plain", "ecdsa"));  // other keys are unaffected

    // A wrong value is kept, refused by the TPM at the next use, then dropped (not sent again).
    ASSERT_TRUE(succeeded(daemon.trustkey({"login", "--key", "own"}, wrong)));
    const auto refused = sign_own();
    EXPECT_TRUE(failed_with_one_line(refused, 1));
    EXPECT_NE(refused.err.find("refused the authorization value"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("'own'"), std::string::npos) << refused.err;
    const auto dropped = sign_own();
    EXPECT_TRUE(failed_with_one_line(dropped, 1));
    EXPECT_NE(dropped.err.find("trustkey login --key own"), std::string::npos) << dropped.err;

    // The right value: the key signs, and openssl verifies it.
    ASSERT_TRUE(succeeded(daemon.trustkey({"login", "--key", "own"}, right)));
    EXPECT_TRUE(signs(daemon, "own", "ecdsa"));
    // The value is in neither the key's blob nor the daemon's log.
    const std::string blob = read_file(daemon.dir() / "data" / "trustkey" / "tpm2" / "tpm" / (own_id + ".tpmkey"));
    EXPECT_EQ(blob.find("own-secret-1"), std::string::npos);
    EXPECT_EQ(daemon.log().find("own-secret-1"), std::string::npos);

    // key load --auth: an existing key moved into the TPM with its own value.
    const auto key_file = daemon.dir() / "moved.pem";
    ASSERT_EQ(run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                           key_file.string()})
                  .exit_code,
              0);
    ASSERT_TRUE(succeeded(
        daemon.trustkey({"key", "load", key_file.string(), "--name", "moved", "--backend", "tpm", "--auth"}, right)));
    EXPECT_TRUE(failed_with_one_line(daemon.trustkey({"sign", "moved", "--digest", to_hex(sha256_bytes("m"))}), 1));
    ASSERT_TRUE(succeeded(daemon.trustkey({"login", "--key", "moved"}, right)));
    EXPECT_TRUE(signs(daemon, "moved", "ecdsa"));

    // Clear refusals: a backend without per-key values, and a key without its own value.
    const auto soft = daemon.trustkey({"key", "generate", "soft", "--auth"}, right);
    EXPECT_TRUE(failed_with_one_line(soft, 1));
    EXPECT_NE(soft.err.find("no per-key authorization values"), std::string::npos) << soft.err;
    const auto plain = daemon.trustkey({"login", "--key", "plain"}, right);
    EXPECT_TRUE(failed_with_one_line(plain, 1));
    EXPECT_NE(plain.err.find("no authorization value of its own"), std::string::npos) << plain.err;
    swtpm().tool({"tpm2_dictionarylockout", "--clear-lockout"});  // the refused try above
}

// Without $TRUSTKEY_KEY_AUTH the value is asked for on the terminal: twice when a key is
// made (two different answers make nothing), once for `login --key`.
TEST_F(TpmCli, AuthorizationValueIsAskedForOnTheTerminal) {
    CliDaemon daemon(with_tpm(swtpm().tcti()));
    const ProcessOptions no_env{.unset = {"TRUSTKEY_KEY_AUTH"}};

    const auto differ =
        daemon.trustkey_on_terminal({"key", "generate", "asked", "--backend", "tpm", "--auth"}, "one-value\nother-value\n", no_env);
    EXPECT_EQ(differ.exit_code, 1) << describe(differ);
    EXPECT_NE(differ.out.find("Authorization value for key 'asked': "), std::string::npos) << differ.out;
    EXPECT_NE(differ.out.find("Repeat the authorization value for key 'asked': "), std::string::npos) << differ.out;
    EXPECT_NE(differ.out.find("the two authorization values for key 'asked' differ"), std::string::npos) << differ.out;
    EXPECT_EQ(daemon.trustkey({"key", "list", "--json"}).out.find("\"asked\""), std::string::npos);

    const auto made = daemon.trustkey_on_terminal({"key", "generate", "asked", "--backend", "tpm", "--auth"},
                                                  "tty-secret-7\ntty-secret-7\n", no_env);
    ASSERT_EQ(made.exit_code, 0) << describe(made);
    EXPECT_TRUE(std::regex_search(made.out, std::regex("[0-9a-f]{64}"))) << made.out;
    const auto before = daemon.trustkey({"sign", "asked", "--digest", to_hex(sha256_bytes("asked"))}, no_env);
    EXPECT_TRUE(failed_with_one_line(before, 1));
    EXPECT_NE(before.err.find("trustkey login --key asked"), std::string::npos) << before.err;

    // `status` names the key that waits, and how to give its value.
    EXPECT_EQ(backend_status(daemon, "tpm")["keys_awaiting_auth"], nlohmann::json::array({"asked"}));
    const auto waiting = daemon.trustkey({"status"});
    EXPECT_NE(waiting.out.find("Key 'asked' on 'tpm' waits for its authorization value (run: trustkey login --key asked)"),
              std::string::npos)
        << waiting.out;

    const auto login = daemon.trustkey_on_terminal({"login", "--key", "asked"}, "tty-secret-7\n", no_env);
    EXPECT_EQ(login.exit_code, 0) << describe(login);
    EXPECT_NE(login.out.find("Authorization value for key 'asked': "), std::string::npos) << login.out;
    EXPECT_TRUE(signs(daemon, "asked", "ecdsa"));
    EXPECT_EQ(backend_status(daemon, "tpm")["keys_awaiting_auth"], nlohmann::json::array());
    EXPECT_EQ(daemon.trustkey({"status"}).out.find("waits for its authorization value"), std::string::npos);
    EXPECT_EQ(daemon.log().find("tty-secret-7"), std::string::npos);
}

TEST_F(TpmCli, MissingOrCorruptBlobIsOneLineNamingKeyAndBackend) {
    CliDaemon daemon(with_tpm(swtpm().tcti()));
    std::map<std::string, std::filesystem::path> blob_of;
    for (const std::string name : {"gone", "cut", "flipped", "fine"}) {
        const auto gen = daemon.trustkey({"key", "generate", name, "--backend", "tpm"});
        ASSERT_TRUE(succeeded(gen));
        blob_of[name] = daemon.dir() / "data" / "trustkey" / "tpm2" / "tpm" / (chomp(gen.out) + ".tpmkey");
        ASSERT_TRUE(std::filesystem::exists(blob_of[name])) << blob_of[name];
    }
    std::filesystem::remove(blob_of["gone"]);
    const std::string cut = read_file(blob_of["cut"]);
    write_file(blob_of["cut"], cut.substr(0, cut.size() / 2));
    std::string flipped = read_file(blob_of["flipped"]);
    flipped[flipped.size() - 10] = static_cast<char>(flipped[flipped.size() - 10] ^ 0x5a);
    write_file(blob_of["flipped"], flipped);

    const std::string digest(64, 'a');
    const auto check = [&](const std::string& key, const std::string& what) {
        SCOPED_TRACE(key);
        const auto r = daemon.trustkey({"sign", key, "--digest", digest});
        EXPECT_TRUE(failed_with_one_line(r, 1));
        EXPECT_EQ(r.err.find("unknown key"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("'" + key + "'"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("backend 'tpm'"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
        // The reply names no path of the daemon's state directory.
        EXPECT_EQ(r.err.find(daemon.dir().string()), std::string::npos) << r.err;
    };
    // The running daemon knows the keys: each failure says what is wrong with the blob.
    check("gone", "blob is missing from the state directory");
    check("cut", "blob in the state directory is corrupt");
    check("flipped", "TPM refused the key's blob");
    // After a rescan the unreadable blob is no longer listed; asking for it still says why.
    const auto listed = daemon.trustkey({"key", "list"});
    ASSERT_TRUE(succeeded(listed));
    EXPECT_EQ(listed.out.find(" cut "), std::string::npos) << listed.out;
    check("cut", "blob in the state directory is corrupt");
    // A key that was never there is still unknown; the intact key still signs.
    const auto none = daemon.trustkey({"sign", "never-made", "--digest", digest});
    EXPECT_TRUE(failed_with_one_line(none, 1));
    EXPECT_NE(none.err.find("unknown key 'never-made'"), std::string::npos) << none.err;
    EXPECT_TRUE(signs(daemon, "fine", "ecdsa"));
}

TEST_F(TpmCli, KeyLoadMovesAnExistingKeyIntoTheTpm) {
    CliDaemon daemon(with_tpm(swtpm().tcti()));
    for (const std::string type : {"ecdsa", "rsa"}) {
        SCOPED_TRACE(type);
        const auto key_file = daemon.dir() / (type + "-key.pem");
        const std::string alg = type == "ecdsa" ? "EC" : "RSA";
        const std::string opt = type == "ecdsa" ? "ec_paramgen_curve:P-256" : "rsa_keygen_bits:2048";
        ASSERT_EQ(run_process({"openssl", "genpkey", "-algorithm", alg, "-pkeyopt", opt, "-out", key_file.string()})
                      .exit_code,
                  0);
        const std::string name = "moved-" + type;
        const auto load = daemon.trustkey({"key", "load", key_file.string(), "--name", name, "--backend", "tpm"});
        ASSERT_TRUE(succeeded(load));
        const std::string id = chomp(load.out);
        // The id is the TUF id of the file's public key, and the key is listed on the TPM.
        EXPECT_EQ(id, expected_tuf_key_id(type, public_der_of_private_key(key_file)));
        const auto listed = nlohmann::json::parse(daemon.trustkey({"key", "list", "--json"}).out);
        bool on_tpm = false;
        for (const auto& k : listed)
            if (k["id"] == id && k["backend"] == "tpm") on_tpm = true;
        EXPECT_TRUE(on_tpm) << listed.dump();
        // Its signatures verify with the public key from the original file.
        const auto pub_file = daemon.dir() / (type + "-file.pub.pem");
        ASSERT_EQ(run_process({"openssl", "pkey", "-in", key_file.string(), "-pubout", "-out", pub_file.string()})
                      .exit_code,
                  0);
        const ByteVec digest = sha256_bytes("moved " + type);
        const auto r = daemon.trustkey({"sign", name, "--digest", to_hex(digest)});
        ASSERT_TRUE(succeeded(r));
        EXPECT_TRUE(openssl_verify(type, pub_file, digest, base64_decode(chomp(r.out)), daemon.dir()));
        // Loading it again is refused.
        EXPECT_TRUE(failed_with_one_line(
            daemon.trustkey({"key", "load", key_file.string(), "--name", name + "-2", "--backend", "tpm"}), 1));
    }
    // Ed25519 cannot move into a TPM: one clear line.
    const auto ed_file = daemon.dir() / "ed.pem";
    ASSERT_EQ(run_process({"openssl", "genpkey", "-algorithm", "ED25519", "-out", ed_file.string()}).exit_code, 0);
    const auto ed = daemon.trustkey({"key", "load", ed_file.string(), "--name", "ed", "--backend", "tpm"});
    EXPECT_TRUE(failed_with_one_line(ed, 1));
    EXPECT_NE(ed.err.find("cannot be moved into a TPM"), std::string::npos) << ed.err;
}

} // namespace
} // namespace trustkey::test
