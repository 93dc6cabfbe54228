// `backup` through the real binary on real SoftHSM2 tokens (in a network namespace of its
// own): a root key copied from token A to token B by wrapping, then `root sign` with token B
// alone, accepted by the real notary-server and notary client. Tokens are inspected with
// pkcs11-tool, independently of trustkey.
#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fixtures/command.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/ceremony/ceremony_run.h"
#include "tests/tools/ceremony/online_targets_key.h"
#include "tools/trust/notary/notary_client.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::test {
namespace {

constexpr const char* kTransportLabel = "trustkey-backup-transport";

std::string token_objects(const std::string& label, const std::string& pin) {
    return run_command("pkcs11-tool --module " + SoftHsmToken::module() + " --token-label " + shell_quote(label) +
                       " --login --pin " + shell_quote(pin) + " --list-objects 2>&1")
        .output;
}


bool one_line(const std::string& err) { return std::count(err.begin(), err.end(), '\n') == 1; }

class BackupTest : public ::testing::Test {
protected:
    void SetUp() override {
        add_softhsm_token("root-b", "2222", "6666");
        write_file(m_dir / "targets.pub", m_online.public_pem());
    }

    ProcessResult generate(const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args = {"--transcript", m_transcript.string(), "root", "generate", "--gun", m_gun,
                                         "--token", "pkcs11:token=root-a", "--threshold", "1", "--out",
                                         m_keys.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_ceremony(args, {.env = {"TRUSTKEY_CEREMONY_PIN_1=1111"}});
    }
    ProcessResult backup(const std::string& so_pin) {
        return run_ceremony({"--transcript", m_transcript.string(), "backup", "--keys", m_keys.string(), "--from",
                             "pkcs11:token=root-a", "--to", "pkcs11:token=root-b"},
                            {.env = {"TRUSTKEY_CEREMONY_PIN_1=1111", "TRUSTKEY_CEREMONY_PIN_2=2222",
                                     "TRUSTKEY_CEREMONY_SO_PIN=" + so_pin}});
    }
    nlohmann::json root_keys() const { return nlohmann::json::parse(read_file(m_keys / "root-keys.json")); }
    std::string key_id() const { return root_keys()["keys"][0]["key_id"].get<std::string>(); }
    void expect_no_transport_objects() {
        EXPECT_EQ(occurrences(token_objects("root-a", "1111"), kTransportLabel), 0u);
        EXPECT_EQ(occurrences(token_objects("root-b", "2222"), kTransportLabel), 0u);
    }

    SoftHsmToken m_a{"root-a", "1111", "5555"};
    OnlineTargetsKey m_online;
    TempDir m_dir{"ceremony-backup"};
    std::filesystem::path m_keys = m_dir / "keys";
    std::filesystem::path m_transcript = m_dir / "transcript.jsonl";
    std::string m_gun = "registry.example.com/ceremony/backup";
};

TEST_F(BackupTest, BackupTokenSignsARootNotaryAccepts) {
    NotaryServer server;
    for (const char* role : {"snapshot", "timestamp"}) {
        const ProcessResult r = server.https_get("/v2/" + m_gun + "/_trust/tuf/" + role + ".key");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        write_file(m_dir / (std::string(role) + ".key.json"), r.out);
    }
    ASSERT_EQ(generate().exit_code, 0);
    EXPECT_EQ(root_keys()["keys"][0]["backup_allowed"], true);
    const ProcessResult b = backup("5555");
    ASSERT_EQ(b.exit_code, 0) << b.err;
    EXPECT_NE(b.out.find("copied from token root-a"), std::string::npos) << b.out;

    // root-keys.json lists the copy; token B holds it, sensitive, and no transport key is left.
    const nlohmann::json listed = root_keys()["keys"][0];
    ASSERT_EQ(listed["backups"].size(), 1u);
    EXPECT_EQ(listed["backups"][0]["token_label"], "root-b");
    const std::string on_b = token_objects("root-b", "2222");
    EXPECT_EQ(occurrences(on_b, "Private Key Object; EC"), 1u) << on_b;
    EXPECT_EQ(occurrences(on_b, "Public Key Object; EC"), 1u) << on_b;
    EXPECT_EQ(occurrences(on_b, "ID:         " + key_id()), 2u) << on_b;
    EXPECT_NE(on_b.find("Access:     sensitive"), std::string::npos) << on_b;
    expect_no_transport_objects();

    // Token B alone signs root.json in place of token A.
    const ProcessResult s = run_ceremony(
        {"--transcript", m_transcript.string(), "root", "sign", "--keys", m_keys.string(), "--targets",
         (m_dir / "targets.pub").string(), "--snapshot", (m_dir / "snapshot.key.json").string(), "--timestamp",
         (m_dir / "timestamp.key.json").string(), "--token", "pkcs11:token=root-b"},
        {.env = {"TRUSTKEY_CEREMONY_PIN_1=2222"}});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const tuf::Signed file = tuf::Signed::parse(read_file(m_keys / "root.json"), "root");
    const tuf::Root root = tuf::Root::from_json(file.body());
    EXPECT_EQ(file.verify(root.role_key_map("root"), 1).size(), 1u);

    const NotaryListing seen = m_online.publish_and_list(server, m_gun, read_file(m_keys / "root.json"));
    EXPECT_EQ(seen.list.exit_code, 0) << seen.list.out << seen.list.err;
    EXPECT_NE(seen.list.out.find("No targets present in this repository"), std::string::npos) << seen.list.out;

    const ProcessResult v = run_ceremony({"transcript", "verify", m_transcript.string()}, {.isolated = false});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find("backup: key copied"), std::string::npos) << v.out;
}

TEST_F(BackupTest, NoBackupKeyIsRefused) {
    ASSERT_EQ(generate({"--no-backup"}).exit_code, 0);
    EXPECT_EQ(root_keys()["keys"][0]["backup_allowed"], false);
    const std::string before = read_file(m_keys / "root-keys.json");
    const ProcessResult b = backup("5555");
    EXPECT_EQ(b.exit_code, 1);
    EXPECT_TRUE(one_line(b.err)) << b.err;
    EXPECT_NE(b.err.find("--no-backup"), std::string::npos) << b.err;
    EXPECT_EQ(read_file(m_keys / "root-keys.json"), before);
    // A root-keys.json that does not say (an older one): the token refuses to let the key out.
    nlohmann::json keys = root_keys();
    keys["keys"][0].erase("backup_allowed");
    write_file(m_keys / "root-keys.json", keys.dump(2));
    const ProcessResult t = backup("5555");
    EXPECT_EQ(t.exit_code, 1);
    EXPECT_TRUE(one_line(t.err)) << t.err;
    EXPECT_NE(t.err.find("is not extractable"), std::string::npos) << t.err;
    EXPECT_EQ(occurrences(token_objects("root-b", "2222"), "Key Object"), 0u);
    expect_no_transport_objects();
}

TEST_F(BackupTest, WrongSoPinChangesNothing) {
    ASSERT_EQ(generate().exit_code, 0);
    const std::string before = read_file(m_keys / "root-keys.json");
    const ProcessResult b = backup("0000");
    EXPECT_EQ(b.exit_code, 1);
    EXPECT_TRUE(one_line(b.err)) << b.err;
    EXPECT_NE(b.err.find("wrong SO PIN for token root-a"), std::string::npos) << b.err;
    EXPECT_EQ(read_file(m_keys / "root-keys.json"), before);
    EXPECT_EQ(occurrences(token_objects("root-b", "2222"), "Key Object"), 0u);
    expect_no_transport_objects();
    const std::string transcript = read_file(m_transcript);
    EXPECT_EQ(occurrences(transcript, "backup: key copied"), 0u);
    EXPECT_NE(transcript.find("wrong SO PIN"), std::string::npos);
}

TEST_F(BackupTest, DestinationHoldingTheKeyIsRefusedAndNothingIsLeft) {
    ASSERT_EQ(generate().exit_code, 0);
    const std::string before = read_file(m_keys / "root-keys.json");
    ASSERT_EQ(backup("5555").exit_code, 0);
    // root-keys.json as it was, so only the token itself can tell the copy is there.
    write_file(m_keys / "root-keys.json", before);
    const ProcessResult again = backup("5555");
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_TRUE(one_line(again.err)) << again.err;
    EXPECT_NE(again.err.find("token root-b"), std::string::npos) << again.err;
    EXPECT_NE(again.err.find("already holds a key with id " + key_id()), std::string::npos) << again.err;
    EXPECT_EQ(read_file(m_keys / "root-keys.json"), before);
    EXPECT_EQ(occurrences(token_objects("root-b", "2222"), "Private Key Object"), 1u);
    expect_no_transport_objects();
}

} // namespace
} // namespace trustkey::test
