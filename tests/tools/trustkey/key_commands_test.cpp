// trustkey key generate / list / public / delete against a real trustkeyd with
// its embedded SoftHSM2 token, one test per key type.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <sstream>

#include "tests/tools/trustkey/cli_expect.h"
#include "tests/tools/trustkey/openssl_check.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {
namespace {

const std::regex kFullId("^[0-9a-f]{64}$");

class KeyLifecycle : public ::testing::TestWithParam<std::string> {};

// The table row for `short_id`, split on whitespace; empty when absent.
std::vector<std::string> table_row(const std::string& table, const std::string& short_id) {
    std::istringstream lines(table);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(short_id, 0) != 0) continue;
        std::istringstream words(line);
        std::vector<std::string> cells;
        for (std::string w; words >> w;) cells.push_back(w);
        return cells;
    }
    return {};
}

TEST_P(KeyLifecycle, GenerateListPublicDelete) {
    const std::string type = GetParam();
    const std::string name = "key-" + type;
    CliDaemon daemon;

    // generate prints the full id and nothing else.
    const auto gen = daemon.trustkey({"key", "generate", name, "--type", type});
    ASSERT_TRUE(succeeded(gen));
    const std::string id = chomp(gen.out);
    ASSERT_TRUE(std::regex_match(id, kFullId)) << gen.out;

    // list: a table with a header and a row for the key.
    const auto table = daemon.trustkey({"key", "list"});
    ASSERT_TRUE(succeeded(table));
    EXPECT_TRUE(std::regex_search(table.out, std::regex("^ID +NAME +TYPE +BACKEND +USE\n"))) << table.out;
    EXPECT_EQ(table_row(table.out, id.substr(0, 12)), (std::vector<std::string>{id.substr(0, 12), name, type, "trustkey", "-"}))
        << table.out;

    // public, PEM: openssl reads it.
    const auto pem = daemon.trustkey({"key", "public", id});
    ASSERT_TRUE(succeeded(pem));
    ASSERT_EQ(pem.out.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u) << pem.out;
    const auto pem_file = daemon.dir() / "pub.pem";
    write_file(pem_file, pem.out);
    const auto parsed = run_process({"openssl", "pkey", "-pubin", "-in", pem_file.string(), "-noout"});
    EXPECT_EQ(parsed.exit_code, 0) << parsed.err;

    // list --json: the same key with its PEM.
    const auto listed = daemon.trustkey({"key", "list", "--json"});
    ASSERT_TRUE(succeeded(listed));
    const auto keys = nlohmann::json::parse(listed.out);
    ASSERT_TRUE(keys.is_array());
    ASSERT_EQ(keys.size(), 1u) << listed.out;
    EXPECT_EQ(keys[0]["id"], id);
    EXPECT_EQ(keys[0]["name"], name);
    EXPECT_EQ(keys[0]["type"], type);
    EXPECT_EQ(keys[0]["backend"], "trustkey");
    EXPECT_EQ(keys[0]["public_key_pem"], pem.out);

    // public, DER: the bytes inside the PEM.
    const auto der = daemon.trustkey({"key", "public", id, "--format", "der"});
    ASSERT_TRUE(succeeded(der));
    const ByteVec der_bytes = to_bytes(der.out);
    EXPECT_EQ(der_bytes, pem_body(pem.out));

    // public, TUF: canonical JSON whose SHA-256 is the key id.
    const auto tuf = daemon.trustkey({"key", "public", id, "--format", "tuf"});
    ASSERT_TRUE(succeeded(tuf));
    const std::string tuf_json = chomp(tuf.out);
    EXPECT_EQ(sha256_hex(tuf_json), id);
    EXPECT_EQ(expected_tuf_key_id(type, der_bytes), id);
    const auto tuf_parsed = nlohmann::json::parse(tuf_json);
    EXPECT_EQ(tuf_parsed["keytype"], type == "rsa4096" ? "rsa" : type);
    EXPECT_TRUE(tuf_parsed["keyval"]["private"].is_null());
    EXPECT_EQ(tuf_parsed.dump(), tuf_json);  // sorted keys, no whitespace

    // The key is found by name and by a 7-digit id prefix too.
    EXPECT_EQ(daemon.trustkey({"key", "public", name}).out, pem.out);
    EXPECT_EQ(daemon.trustkey({"key", "public", id.substr(0, 7)}).out, pem.out);

    // delete, then it is gone.
    const auto del = daemon.trustkey({"key", "delete", id.substr(0, 12), "--yes"});
    ASSERT_TRUE(succeeded(del));
    const auto after = daemon.trustkey({"key", "list", "--json"});
    ASSERT_TRUE(succeeded(after));
    EXPECT_TRUE(nlohmann::json::parse(after.out).empty()) << after.out;
    EXPECT_TRUE(table_row(daemon.trustkey({"key", "list"}).out, id.substr(0, 12)).empty());
    const auto gone = daemon.trustkey({"key", "public", id});
    EXPECT_TRUE(failed_with_one_line(gone, 1));
    EXPECT_EQ(gone.err, "trustkey: unknown key '" + id + "'\n");
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KeyLifecycle, ::testing::Values("ecdsa", "rsa", "rsa4096", "ed25519"),
                         [](const auto& info) { return info.param; });

TEST(KeyList, EmptyTokenListsHeaderOnlyAndEmptyJsonArray) {
    CliDaemon daemon;
    const auto table = daemon.trustkey({"key", "list"});
    ASSERT_TRUE(succeeded(table));
    EXPECT_TRUE(std::regex_match(table.out, std::regex("ID +NAME +TYPE +BACKEND +USE\n"))) << table.out;
    const auto json = daemon.trustkey({"key", "list", "--json"});
    ASSERT_TRUE(succeeded(json));
    EXPECT_EQ(nlohmann::json::parse(json.out), nlohmann::json::array());
}

// What trustkey records with a key (here the role `trust key generate` gives a signer key)
// is stored with it on the token: a new daemon on the same token shows it.
TEST(KeyList, RecordedUsesSurviveADaemonRestart) {
    TrustkeydHome home{"trustkey-cli-restart"};
    TrustkeydOptions options;
    options.socket = home.runtime() / "agent.sock";
    options.unset.push_back("SOFTHSM2_CONF");
    const auto cli = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"--socket", options.socket->string()});
        return run_trustkey(args);
    };
    std::string id;
    {
        TrustkeydInstance first(trustkeyd_path(), home, options);
        const auto gen = cli({"trust", "key", "generate", "alice", "--dir", home.root().string()});
        ASSERT_TRUE(succeeded(gen));
        const auto keys = nlohmann::json::parse(cli({"key", "list", "--json"}).out);
        ASSERT_EQ(keys.size(), 1u);
        id = keys[0]["id"];
        EXPECT_EQ(keys[0]["uses"], nlohmann::json::parse(R"([{"repository":"","role":"targets/alice"}])"));
        ASSERT_EQ(first.stop(), 0) << first.log();
    }
    TrustkeydInstance second(trustkeyd_path(), home, options);
    const auto keys = nlohmann::json::parse(cli({"key", "list", "--json"}).out);
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0]["id"], id);
    EXPECT_EQ(keys[0]["uses"], nlohmann::json::parse(R"([{"repository":"","role":"targets/alice"}])"));
    EXPECT_EQ(table_row(cli({"key", "list"}).out, id.substr(0, 12)),
              (std::vector<std::string>{id.substr(0, 12), "alice", "ecdsa", "trustkey", "targets/alice"}));
}

TEST(KeyGenerate, DefaultTypeIsEcdsaAndDuplicateNameFails) {
    CliDaemon daemon;
    const auto gen = daemon.trustkey({"key", "generate", "signer"});
    ASSERT_TRUE(succeeded(gen));
    const auto keys = nlohmann::json::parse(daemon.trustkey({"key", "list", "--json"}).out);
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0]["type"], "ecdsa");
    EXPECT_EQ(keys[0]["id"], chomp(gen.out));

    const auto again = daemon.trustkey({"key", "generate", "signer", "--type", "ed25519"});
    EXPECT_TRUE(failed_with_one_line(again, 1));
    EXPECT_EQ(nlohmann::json::parse(daemon.trustkey({"key", "list", "--json"}).out).size(), 1u);
}

TEST(KeyDelete, RefusesWithoutYesWhenStdinIsNotATerminal) {
    CliDaemon daemon;
    const auto gen = daemon.trustkey({"key", "generate", "keep-me"});
    ASSERT_TRUE(succeeded(gen));
    const auto del = daemon.trustkey({"key", "delete", "keep-me"}, {.stdin_data = "y\n"});
    EXPECT_TRUE(failed_with_one_line(del, 2));
    EXPECT_NE(del.err.find("--yes"), std::string::npos) << del.err;
    // Still there.
    EXPECT_TRUE(succeeded(daemon.trustkey({"key", "public", "keep-me"})));
}

} // namespace
} // namespace trustkey::test
