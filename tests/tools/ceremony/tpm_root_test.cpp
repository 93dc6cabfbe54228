// Root keys on a TPM (`--token tpm`) through the real binary in a network namespace of its
// own, on a real swtpm reached through a socket file; alone and beside a SoftHSM2 token,
// with the root.json taken by the real notary-server and read by the real notary client.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/core/error.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/swtpm.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/ceremony/ceremony_run.h"
#include "tests/tools/ceremony/online_targets_key.h"
#include "tools/trust/notary/notary_client.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::test {
namespace {


class TpmRootTest : public ::testing::Test {
protected:
    // The TPM's identity as tpm2-tools computes it: the Name of the storage primary made
    // from the owner seed with the template trustkey uses, without its algorithm prefix.
    std::string primary_name_by_tpm2_tools() const {
        const std::string ctx = (m_dir / "primary.ctx").string();
        m_tpm.tool({"tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb", "-a",
                    "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt|noda", "-c", ctx});
        const std::string out = "\n" + m_tpm.tool({"tpm2_readpublic", "-c", ctx});
        m_tpm.tool({"tpm2_flushcontext", "-t"});
        const std::string tag = "\nname: 000b";
        const auto at = out.find(tag);
        if (at == std::string::npos) return "(no name in: " + out + ")";
        return out.substr(at + tag.size(), 64);
    }
    std::vector<std::string> tpm_args(std::vector<std::string> args) const {
        args.insert(args.begin(), {"--transcript", m_transcript.string(), "--tpm", m_tpm.tcti()});
        return args;
    }
    ProcessResult generate(const std::vector<std::string>& tokens, const std::string& threshold,
                           const CeremonyRun& run) const {
        std::vector<std::string> args = {"root", "generate", "--gun", m_gun, "--threshold", threshold,
                                         "--out", m_keys.string()};
        for (const auto& t : tokens) args.insert(args.end(), {"--token", t});
        return run_ceremony(tpm_args(args), run);
    }
    ProcessResult sign(const std::vector<std::string>& tokens, const CeremonyRun& run) const {
        std::vector<std::string> args = {"root",        "sign",         "--keys",
                                         m_keys.string(), "--targets",  (m_dir / "targets.pub").string(),
                                         "--snapshot",  (m_dir / "snapshot.key.json").string(),
                                         "--timestamp", (m_dir / "timestamp.key.json").string()};
        for (const auto& t : tokens) args.insert(args.end(), {"--token", t});
        return run_ceremony(tpm_args(args), run);
    }
    void write_local_role_keys() {
        make_self_signed_ec_cert(m_dir / "targets.key", m_dir / "targets.pub", "targets");
        make_self_signed_ec_cert(m_dir / "snapshot.key", m_dir / "snapshot.key.json", "snapshot");
        make_self_signed_ec_cert(m_dir / "timestamp.key", m_dir / "timestamp.key.json", "timestamp");
    }

    Swtpm m_tpm{Swtpm::Transport::unix_socket};
    TempDir m_dir{"ceremony-tpm"};
    std::filesystem::path m_keys = m_dir / "keys";
    std::filesystem::path m_transcript = m_dir / "transcript.jsonl";
    std::string m_gun = "registry.example.com/ceremony/tpm";
};

TEST_F(TpmRootTest, GenerateOnTheTpmNamesItByItsStoragePrimary) {
    // No authorization value: an empty line where it is asked. No PKCS#11 module is needed.
    const ProcessResult r = generate({"tpm"}, "1", {.unset = {"TRUSTKEY_PKCS11_MODULE"}, .stdin_data = "\n"});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    const auto keys = nlohmann::json::parse(read_file(m_keys / "root-keys.json"));
    ASSERT_EQ(keys["keys"].size(), 1u);
    const auto& k = keys["keys"][0];
    const std::string serial = k["token_serial"].get<std::string>();
    EXPECT_EQ(serial, primary_name_by_tpm2_tools());
    EXPECT_EQ(k["token_label"], "TPM IBM");  // swtpm's manufacturer
    // The key blob is in <keys>/tpm, named by the key's id; the certificate is CN = GUN,
    // self-signed by the TPM key, and its key is the public key written beside it.
    EXPECT_TRUE(std::filesystem::exists(m_keys / "tpm" / (k["key_id"].get<std::string>() + ".tpmkey")));
    const std::string cert = (m_keys / k["certificate"].get<std::string>()).string();
    const CommandResult subject = run_command("openssl x509 -in " + shell_quote(cert) + " -noout -subject");
    EXPECT_NE(subject.output.find("CN = " + m_gun), std::string::npos) << subject.output;
    const CommandResult pub = run_command("openssl x509 -in " + shell_quote(cert) + " -noout -pubkey");
    EXPECT_EQ(pub.output, read_file(m_keys / k["public_key"].get<std::string>()));
    const CommandResult self = run_command("openssl verify -no-CApath -no-CAstore -partial_chain -CAfile " +
                                           shell_quote(cert) + " " + shell_quote(cert));
    EXPECT_NE(self.output.find(": OK"), std::string::npos) << self.output;

    const auto lines = transcript_lines(m_transcript);
    bool token_line = false;
    for (const auto& line : lines)
        if (line["step"] == "token") {
            token_line = true;
            EXPECT_EQ(line["tokens"], nlohmann::json::array({serial}));
            EXPECT_EQ(line["details"]["uri"], "tpm");
            EXPECT_EQ(line["details"]["tcti"], m_tpm.tcti());
        }
    EXPECT_TRUE(token_line);
    EXPECT_EQ(lines.back()["step"], "root generate: done");
    EXPECT_EQ(lines.back()["tokens"], nlohmann::json::array({serial}));

    // The same TPM after a restart: the same identity, and the key signs the transcript
    // without being asked for a value (it has none).
    m_tpm.kill();
    m_tpm.start();
    const ProcessResult t = run_ceremony(tpm_args({"transcript", "sign", "--keys", m_keys.string(), "--token", "tpm"}));
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_EQ(transcript_lines(m_transcript).back()["tokens"], nlohmann::json::array({serial}));
    const ProcessResult v =
        run_ceremony({"transcript", "verify", m_transcript.string(), "--keys", m_keys.string()}, {.isolated = false});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find("signed by 1 root key(s), threshold 1"), std::string::npos) << v.out;

    // A TPM key is bound to its TPM: never made for copying, and `backup` refuses it.
    EXPECT_EQ(k["backup_allowed"], false);
    const std::string before = read_file(m_keys / "root-keys.json");
    const ProcessResult b = run_ceremony(
        tpm_args({"backup", "--keys", m_keys.string(), "--from", "tpm", "--to", "pkcs11:token=elsewhere"}));
    EXPECT_EQ(b.exit_code, 1);
    EXPECT_EQ(b.err_lines(), 1u) << b.err;
    EXPECT_NE(b.err.find("a TPM's keys are bound to that TPM"), std::string::npos) << b.err;
    EXPECT_EQ(read_file(m_keys / "root-keys.json"), before);
}

TEST_F(TpmRootTest, WrongAuthorizationValueWritesNothing) {
    write_local_role_keys();
    ASSERT_EQ(generate({"tpm"}, "1", {.env = {"TRUSTKEY_CEREMONY_PIN_1=tpm-secret"}}).exit_code, 0);
    const ProcessResult wrong = sign({"tpm"}, {.env = {"TRUSTKEY_CEREMONY_PIN_1=not-it"}});
    EXPECT_EQ(wrong.exit_code, 1);
    EXPECT_EQ(wrong.err_lines(), 1u) << wrong.err;
    EXPECT_NE(wrong.err.find("the TPM refused the authorization value for root key"), std::string::npos) << wrong.err;
    EXPECT_FALSE(std::filesystem::exists(m_keys / "root.json"));
    EXPECT_EQ(transcript_lines(m_transcript).back()["step"], "failed");
    EXPECT_EQ(read_file(m_transcript).find("not-it"), std::string::npos);

    // No value at all (nothing on standard input) is refused before the TPM is asked.
    const ProcessResult none = sign({"tpm"}, {});
    EXPECT_EQ(none.exit_code, 1);
    EXPECT_EQ(none.err_lines(), 1u) << none.err;
    EXPECT_FALSE(std::filesystem::exists(m_keys / "root.json"));

    // The control: the right value signs.
    const ProcessResult right = sign({"tpm"}, {.env = {"TRUSTKEY_CEREMONY_PIN_1=tpm-secret"}});
    ASSERT_EQ(right.exit_code, 0) << right.err;
    const tuf::Signed file = tuf::Signed::parse(read_file(m_keys / "root.json"), "root");
    const tuf::Root root = tuf::Root::from_json(file.body());
    EXPECT_EQ(file.verify(root.role_key_map("root"), 1).size(), 1u);
}

TEST_F(TpmRootTest, UnreachableTpmIsOneLineNamingTheTcti) {
    const std::string tcti = "swtpm:path=" + (m_dir / "absent.sock").string();
    const ProcessResult r =
        run_ceremony({"--transcript", m_transcript.string(), "--tpm", tcti, "root", "generate", "--gun", m_gun,
                      "--token", "tpm", "--out", m_keys.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("the TPM at " + tcti + " is unreachable"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_keys)) << "nothing is written for an unreachable TPM";
    EXPECT_EQ(transcript_lines(m_transcript).back()["step"], "failed");
}

class TpmAndTokenTest : public TpmRootTest {
protected:
    SoftHsmToken m_a{"root-a", "1111"};
    OnlineTargetsKey m_online;
    CeremonyRun m_secrets{.env = {"TRUSTKEY_CEREMONY_PIN_1=1111", "TRUSTKEY_CEREMONY_PIN_2=tpm-secret"}};
};

TEST_F(TpmAndTokenTest, TwoOfTokenAndTpmIsAcceptedByNotary) {
    NotaryServer server;
    write_file(m_dir / "targets.pub", m_online.public_pem());
    for (const char* role : {"snapshot", "timestamp"}) {
        const ProcessResult r = server.https_get("/v2/" + m_gun + "/_trust/tuf/" + role + ".key");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        write_file(m_dir / (std::string(role) + ".key.json"), r.out);
    }
    const ProcessResult g = generate({"pkcs11:token=root-a", "tpm"}, "2", m_secrets);
    ASSERT_EQ(g.exit_code, 0) << g.err;
    const auto keys = nlohmann::json::parse(read_file(m_keys / "root-keys.json"));
    ASSERT_EQ(keys["keys"].size(), 2u);
    EXPECT_EQ(keys["keys"][1]["token_serial"], primary_name_by_tpm2_tools());
    EXPECT_NE(keys["keys"][0]["token_serial"], keys["keys"][1]["token_serial"]);

    const ProcessResult s = sign({"pkcs11:token=root-a", "tpm"}, m_secrets);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const tuf::Signed file = tuf::Signed::parse(read_file(m_keys / "root.json"), "root");
    const tuf::Root root = tuf::Root::from_json(file.body());
    EXPECT_EQ(root.role("root").threshold, 2);
    EXPECT_EQ(file.verify(root.role_key_map("root"), 2).size(), 2u);

    // The real notary-server takes root.json with a targets.json from the online side, and
    // the real notary client trusts it on first use and reads the repository.
    const NotaryListing seen = m_online.publish_and_list(server, m_gun, read_file(m_keys / "root.json"));
    EXPECT_EQ(seen.list.exit_code, 0) << seen.list.out << seen.list.err;
    EXPECT_NE(seen.list.out.find("No targets present in this repository"), std::string::npos) << seen.list.out;
    EXPECT_EQ(seen.pinned_root, read_file(m_keys / "root.json"));

    // Two signatures of the transcript, one by each, checked against the threshold.
    const ProcessResult t = run_ceremony(
        tpm_args({"transcript", "sign", "--keys", m_keys.string(), "--token", "pkcs11:token=root-a", "--token", "tpm"}),
        m_secrets);
    ASSERT_EQ(t.exit_code, 0) << t.err;
    const ProcessResult v =
        run_ceremony({"transcript", "verify", m_transcript.string(), "--keys", m_keys.string()}, {.isolated = false});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find("signed by 2 root key(s), threshold 2"), std::string::npos) << v.out;
}

} // namespace
} // namespace trustkey::test
