// `root generate` and the network check, through the real binary on real SoftHSM2 tokens,
// run in a network namespace of their own.
#include <fstream>
#include <functional>
#include <sstream>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/ceremony/ceremony_run.h"

namespace trustkey::test {
namespace {


// Labels of the objects on a token, listed by pkcs11-tool (independent of trustkey).
std::string token_objects(const std::string& label, const std::string& pin) {
    return run_command("pkcs11-tool --module " + SoftHsmToken::module() + " --token-label " + shell_quote(label) +
                       " --login --pin " + shell_quote(pin) + " --list-objects 2>&1")
        .output;
}

class RootGenerateTest : public ::testing::Test {
protected:
    void SetUp() override { add_softhsm_token("root-b", "Qb-2222"); }

    std::vector<std::string> generate_args(const std::string& threshold = "2") const {
        return {"--transcript", m_transcript.string(), "root", "generate", "--gun", kGun,
                "--token", m_a.uri(), "--token", "pkcs11:token=root-b", "--threshold", threshold,
                "--out", m_out.string()};
    }

    static constexpr const char* kGun = "registry.example.com/org/app";
    SoftHsmToken m_a{"root-a", "Qa-1111"};
    TempDir m_dir{"ceremony-out"};
    std::filesystem::path m_out = m_dir / "keys";
    std::filesystem::path m_transcript = m_dir / "transcript.jsonl";
    CeremonyRun m_pins{.env = {"TRUSTKEY_CEREMONY_PIN_1=Qa-1111", "TRUSTKEY_CEREMONY_PIN_2=Qb-2222"}};
};

TEST_F(RootGenerateTest, KeyAndCertificateOnEachToken) {
    const ProcessResult r = run_ceremony(generate_args(), m_pins);
    ASSERT_EQ(r.exit_code, 0) << r.err;

    const auto keys = nlohmann::json::parse(read_file(m_out / "root-keys.json"));
    EXPECT_EQ(keys["gun"], kGun);
    EXPECT_EQ(keys["threshold"], 2);
    ASSERT_EQ(keys["keys"].size(), 2u);
    for (int i = 0; i < 2; ++i) {
        const auto& k = keys["keys"][i];
        const std::string cert = (m_out / k["certificate"].get<std::string>()).string();
        // CN = GUN, ~10 years, the certificate's key is the public key written beside it.
        const CommandResult subject = run_command("openssl x509 -in " + shell_quote(cert) + " -noout -subject");
        EXPECT_NE(subject.output.find("CN = " + std::string(kGun)), std::string::npos) << subject.output;
        const CommandResult ten_years =
            run_command("openssl x509 -in " + shell_quote(cert) + " -noout -checkend " + std::to_string(9L * 365 * 86400));
        EXPECT_EQ(ten_years.exit_code, 0) << ten_years.output;
        const CommandResult eleven = run_command("openssl x509 -in " + shell_quote(cert) + " -noout -checkend " +
                                                 std::to_string(11L * 365 * 86400));
        EXPECT_NE(eleven.exit_code, 0) << eleven.output;
        const CommandResult pub = run_command("openssl x509 -in " + shell_quote(cert) + " -noout -pubkey");
        EXPECT_EQ(pub.output, read_file(m_out / k["public_key"].get<std::string>()));
        // The self-signature verifies with the certificate's own key.
        const CommandResult sig = run_command("openssl x509 -in " + shell_quote(cert) +
                                              " -noout -text | grep -c 'ecdsa-with-SHA256'");
        EXPECT_EQ(sig.output, "2\n");
        const CommandResult self = run_command("openssl verify -no-CApath -no-CAstore -partial_chain -CAfile " +
                                               shell_quote(cert) + " " + shell_quote(cert));
        EXPECT_NE(self.output.find(": OK"), std::string::npos) << self.output;
    }
    EXPECT_NE(keys["keys"][0]["token_serial"], keys["keys"][1]["token_serial"]);
    EXPECT_NE(token_objects("root-a", "Qa-1111").find(keys["keys"][0]["key_name"].get<std::string>()), std::string::npos);
    EXPECT_NE(token_objects("root-b", "Qb-2222").find(keys["keys"][1]["key_name"].get<std::string>()), std::string::npos);

    const auto lines = transcript_lines(m_transcript);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.front()["step"], "start");
    EXPECT_EQ(lines.front()["details"]["allow_network"], false);
    EXPECT_EQ(lines.back()["step"], "root generate: done");
    EXPECT_EQ(lines.back()["tokens"], nlohmann::json::array({keys["keys"][0]["token_serial"],
                                                             keys["keys"][1]["token_serial"]}));
    EXPECT_EQ(lines.back()["keys"], nlohmann::json::array({keys["keys"][0]["x509_key_id"],
                                                           keys["keys"][1]["x509_key_id"]}));
    // The PINs have letters no hash, key id or time contains.
    const std::string all = read_file(m_transcript);
    EXPECT_EQ(all.find("Qa-1111"), std::string::npos);
    EXPECT_EQ(all.find("Qb-2222"), std::string::npos);

    const ProcessResult v = run_ceremony({"transcript", "verify", m_transcript.string()}, {.isolated = false});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find(std::to_string(lines.size()) + " lines, hash chain intact"), std::string::npos) << v.out;
}

TEST_F(RootGenerateTest, PinsFromStandardInput) {
    CeremonyRun run{.unset = {"TRUSTKEY_CEREMONY_PIN", "TRUSTKEY_CEREMONY_PIN_1", "TRUSTKEY_CEREMONY_PIN_2"},
                    .stdin_data = "Qa-1111\nQb-2222\n"};
    const ProcessResult r = run_ceremony(generate_args("1"), run);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(std::filesystem::exists(m_out / "root-keys.json"));
}

TEST_F(RootGenerateTest, OperatorAndPinsFromStandardInput) {
    CeremonyRun run{.unset = {"TRUSTKEY_CEREMONY_OPERATOR", "TRUSTKEY_CEREMONY_PIN", "TRUSTKEY_CEREMONY_PIN_1",
                              "TRUSTKEY_CEREMONY_PIN_2"},
                    .stdin_data = "Carol Example\nQa-1111\nQb-2222\n"};
    const ProcessResult r = run_ceremony(generate_args(), run);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& line : transcript_lines(m_transcript)) EXPECT_EQ(line["operator"], "Carol Example");
}

TEST_F(RootGenerateTest, TerminalPromptsForOperatorAndPins) {
    // A pseudo-terminal from script(1), inside the network namespace.
    std::string command = shell_quote(TRUSTKEY_CEREMONY_PATH);
    for (const auto& a : generate_args()) command += " " + shell_quote(a);
    ProcessOptions options;
    options.env = {"TRUSTKEY_PKCS11_MODULE=" + SoftHsmToken::module()};
    options.unset = {"TRUSTKEY_CEREMONY_OPERATOR", "TRUSTKEY_CEREMONY_PIN", "TRUSTKEY_CEREMONY_PIN_1",
                     "TRUSTKEY_CEREMONY_PIN_2"};
    options.stdin_data = "Dana\nQa-1111\nQb-2222\n";
    const ProcessResult r = run_process({"unshare", "-n", "--", "script", "-qec", command, "/dev/null"}, options);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Operator name: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("User PIN for token root-a (serial "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("User PIN for token root-b (serial "), std::string::npos) << r.out;
    for (const auto& line : transcript_lines(m_transcript)) EXPECT_EQ(line["operator"], "Dana");
    EXPECT_TRUE(std::filesystem::exists(m_out / "root-keys.json"));
}

TEST_F(RootGenerateTest, NoOperatorNameIsAUsageError) {
    CeremonyRun run = m_pins;
    run.unset = {"TRUSTKEY_CEREMONY_OPERATOR"};
    const ProcessResult r = run_ceremony(generate_args(), run);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("the operator's name is needed"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_transcript));
}

TEST_F(RootGenerateTest, ThresholdLargerThanKeysIsRefused) {
    const ProcessResult r = run_ceremony(generate_args("3"), m_pins);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("threshold 3 is larger than the 2 root keys"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_out));
    EXPECT_EQ(token_objects("root-a", "Qa-1111").find("root-"), std::string::npos);
}

TEST_F(RootGenerateTest, WrongPinMakesNoKey) {
    CeremonyRun run{.env = {"TRUSTKEY_CEREMONY_PIN_1=Qa-1111", "TRUSTKEY_CEREMONY_PIN_2=Qw-9999"}};
    const ProcessResult r = run_ceremony(generate_args(), run);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("wrong PIN for token root-b (serial "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("tries left"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_out / "root-keys.json"));
    EXPECT_EQ(token_objects("root-a", "Qa-1111").find("root-"), std::string::npos);
    const auto lines = transcript_lines(m_transcript);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back()["step"], "failed");
    EXPECT_EQ(read_file(m_transcript).find("Qw-9999"), std::string::npos);
}

TEST_F(RootGenerateTest, AbsentTokenIsNamed) {
    auto args = generate_args("1");
    args[9] = "pkcs11:token=not-plugged-in";
    const ProcessResult r = run_ceremony(args, m_pins);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("token pkcs11:token=not-plugged-in is not present"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_out / "root-keys.json"));
}

TEST_F(RootGenerateTest, UriMatchingTwoTokensIsRefusedNamingBoth) {
    auto args = generate_args("1");
    args[7] = "pkcs11:manufacturer=SoftHSM%20project";
    args.erase(args.begin() + 8, args.begin() + 10);
    const ProcessResult r = run_ceremony(args, m_pins);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("matches 2 tokens"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'root-a' (serial "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'root-b' (serial "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("add serial= or token="), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_out / "root-keys.json"));
}

TEST_F(RootGenerateTest, RefusedWhileTheNetworkIsUp) {
    if (!host_network_is_up()) GTEST_SKIP() << "no network interface is up on this machine";
    CeremonyRun run = m_pins;
    run.isolated = false;
    const ProcessResult r = run_ceremony(generate_args(), run);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find(" up; take the machine off the network"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_transcript));
    EXPECT_FALSE(std::filesystem::exists(m_out));
}

TEST_F(RootGenerateTest, AllowNetworkIsRecorded) {
    if (!host_network_is_up()) GTEST_SKIP() << "no network interface is up on this machine";
    CeremonyRun run = m_pins;
    run.isolated = false;
    auto args = generate_args("1");
    args.insert(args.begin(), "--allow-network");
    const ProcessResult r = run_ceremony(args, run);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = transcript_lines(m_transcript);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.front()["details"]["allow_network"], true);
    EXPECT_FALSE(lines.front()["details"]["interfaces_up"].empty());
}

TEST_F(RootGenerateTest, ExistingKeyNameIsRefusedBeforeAnyKeyIsMade) {
    ASSERT_EQ(run_ceremony(generate_args("1"), m_pins).exit_code, 0);
    TempDir other("ceremony-out2");
    auto args = generate_args("1");
    args.back() = (other / "keys").string();
    const ProcessResult r = run_ceremony(args, m_pins);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("token root-a (serial "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("already has a key named root-"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(other / "keys"));
}

TEST_F(RootGenerateTest, TranscriptEditedAfterTheFactIsNamed) {
    ASSERT_EQ(run_ceremony(generate_args(), m_pins).exit_code, 0);
    std::vector<std::string> lines;
    {
        std::ifstream in(m_transcript);
        for (std::string line; std::getline(in, line);) lines.push_back(line);
    }
    ASSERT_GE(lines.size(), 4u);
    const auto at = lines[2].find("test operator");
    ASSERT_NE(at, std::string::npos) << lines[2];
    lines[2].replace(at, 13, "other person!");
    {
        std::ofstream out(m_transcript, std::ios::trunc);
        for (const auto& line : lines) out << line << "\n";
    }
    const ProcessResult v = run_ceremony({"transcript", "verify", m_transcript.string()}, {.isolated = false});
    EXPECT_EQ(v.exit_code, 1);
    EXPECT_EQ(v.err_lines(), 1u) << v.err;
    EXPECT_NE(v.err.find(m_transcript.string() + " line 3: its content does not match its hash"), std::string::npos)
        << v.err;
    // A ceremony does not go on from an edited transcript.
    TempDir other("ceremony-out2");
    auto args = generate_args("1");
    args.back() = (other / "keys").string();
    const ProcessResult r = run_ceremony(args, m_pins);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("line 3: its content does not match its hash"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(other / "keys"));
}

// Rewrites the whole chain after `edit` changed some lines, as a forger would: each
// line's hash and the next line's prev (and a signature line's head) recomputed.
void rewrite_chain(const std::filesystem::path& transcript, const std::function<void(std::vector<nlohmann::json>&)>& edit) {
    auto lines = transcript_lines(transcript);
    edit(lines);
    std::string prev(64, '0');
    std::ofstream out(transcript, std::ios::trunc);
    for (auto& line : lines) {
        line["prev"] = prev;
        if (line["step"] == "transcript signature") line["details"]["head"] = prev;
        line.erase("hash");
        line["hash"] = to_hex(sha256(as_bytes(line.dump())));
        prev = line["hash"];
        out << line.dump() << "\n";
    }
}

TEST_F(RootGenerateTest, TranscriptSignedByTheRootKeys) {
    ASSERT_EQ(run_ceremony(generate_args(), m_pins).exit_code, 0);
    const ProcessResult s = run_ceremony({"--transcript", m_transcript.string(), "transcript", "sign", "--keys",
                                          m_out.string(), "--token", m_a.uri(), "--token", "pkcs11:token=root-b"},
                                         m_pins);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const auto lines = transcript_lines(m_transcript);
    EXPECT_EQ(lines.back()["step"], "transcript signature");
    EXPECT_EQ(lines.back()["details"]["signatures"].size(), 2u);

    const ProcessResult v = run_ceremony({"transcript", "verify", m_transcript.string(), "--keys", m_out.string()},
                                         {.isolated = false});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find("lines 1-" + std::to_string(lines.size() - 1) + " signed by 2 root key(s), threshold 2"),
              std::string::npos)
        << v.out;

    // An earlier line edited and the whole chain recomputed: only the signatures catch it.
    rewrite_chain(m_transcript, [](std::vector<nlohmann::json>& l) { l[0]["operator"] = "mallory"; });
    const ProcessResult chain = run_ceremony({"transcript", "verify", m_transcript.string()}, {.isolated = false});
    EXPECT_EQ(chain.exit_code, 0) << chain.err;
    const ProcessResult forged = run_ceremony(
        {"transcript", "verify", m_transcript.string(), "--keys", m_out.string()}, {.isolated = false});
    EXPECT_EQ(forged.exit_code, 1);
    EXPECT_EQ(forged.err_lines(), 1u) << forged.err;
    EXPECT_NE(forged.err.find("line " + std::to_string(lines.size()) + ": the signature by root key "),
              std::string::npos)
        << forged.err;
    EXPECT_NE(forged.err.find("does not verify"), std::string::npos) << forged.err;
}

TEST_F(RootGenerateTest, TranscriptSignedBelowTheThresholdIsReported) {
    ASSERT_EQ(run_ceremony(generate_args(), m_pins).exit_code, 0);
    const ProcessResult s = run_ceremony(
        {"--transcript", m_transcript.string(), "transcript", "sign", "--keys", m_out.string(), "--token", m_a.uri()},
        m_pins);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const ProcessResult v = run_ceremony({"transcript", "verify", m_transcript.string(), "--keys", m_out.string()},
                                         {.isolated = false});
    EXPECT_EQ(v.exit_code, 1);
    EXPECT_NE(v.err.find("the last signature line has 1 root signature(s), threshold 2"), std::string::npos) << v.err;
}

// A run stopped after both keys exist but before the second certificate is written (a
// directory sits where root-2.crt goes). The output is visibly incomplete (no
// root-keys.json), a plain re-run refuses, and --resume finishes with the same keys.
TEST_F(RootGenerateTest, InterruptedRunResumesWithTheSameKeys) {
    std::filesystem::create_directories(m_out / "root-2.crt");
    const ProcessResult first = run_ceremony(generate_args(), m_pins);
    ASSERT_EQ(first.exit_code, 1) << first.err;
    EXPECT_EQ(first.err_lines(), 1u) << first.err;
    EXPECT_NE(first.err.find("root-2.crt"), std::string::npos) << first.err;
    EXPECT_FALSE(std::filesystem::exists(m_out / "root-keys.json"));
    EXPECT_EQ(transcript_lines(m_transcript).back()["step"], "failed");
    std::filesystem::remove(m_out / "root-2.crt");

    const ProcessResult plain = run_ceremony(generate_args(), m_pins);
    EXPECT_EQ(plain.exit_code, 1);
    EXPECT_EQ(plain.err_lines(), 1u) << plain.err;
    EXPECT_NE(plain.err.find("from an interrupted run (give --resume"), std::string::npos) << plain.err;

    auto args = generate_args();
    args.push_back("--resume");
    const ProcessResult resumed = run_ceremony(args, m_pins);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    const auto keys = nlohmann::json::parse(read_file(m_out / "root-keys.json"));
    ASSERT_EQ(keys["keys"].size(), 2u);
    // One root key per token (pkcs11-tool counts the private keys), the one recorded as made.
    for (const auto& [label, pin] : {std::pair{"root-a", "Qa-1111"}, std::pair{"root-b", "Qb-2222"}}) {
        const std::string objects = token_objects(label, pin);
        std::size_t count = 0;
        for (std::size_t at = objects.find("Private Key Object"); at != std::string::npos;
             at = objects.find("Private Key Object", at + 1))
            ++count;
        EXPECT_EQ(count, 1u) << objects;
    }
    std::vector<std::string> made;
    for (const auto& line : transcript_lines(m_transcript))
        if (line["step"] == "root generate: key made") made.push_back(line["keys"][0]);
    EXPECT_EQ(made, (std::vector<std::string>{keys["keys"][0]["key_id"], keys["keys"][1]["key_id"]}));
}

// A key of that name the transcript does not record is never taken over, even with --resume.
TEST_F(RootGenerateTest, ResumeDoesNotTakeAnUnrecordedKey) {
    ASSERT_EQ(run_ceremony(generate_args(), m_pins).exit_code, 0);
    TempDir other("ceremony-other");
    auto args = generate_args();
    args[1] = (other / "transcript.jsonl").string();
    args[args.size() - 1] = (other / "keys").string();
    args.push_back("--resume");
    const ProcessResult r = run_ceremony(args, m_pins);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("already has a key named root-"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(other / "keys"));
}

} // namespace
} // namespace trustkey::test
