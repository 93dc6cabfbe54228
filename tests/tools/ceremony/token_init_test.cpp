// `token list` and `token init` through the real binary on SoftHSM2 (under `unshare -n`);
// the results are checked with pkcs11-tool.
#include <fstream>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/ceremony/ceremony_run.h"

namespace trustkey::test {
namespace {

std::string pkcs11_tool(const std::string& args) {
    return run_command("pkcs11-tool --module " + SoftHsmToken::module() + " " + args + " 2>&1").output;
}

class TokenInitTest : public ::testing::Test {
protected:
    // The id of the slot `token list` shows with `label` ("" for the free slot).
    std::string slot_of(const std::string& label) {
        const ProcessResult r = run_ceremony({"--transcript", m_transcript.string(), "token", "list"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        const std::regex line("slot ([0-9]+)  (initialized|not initialized)  label \"" + label + "\"");
        std::smatch m;
        if (!std::regex_search(r.out, m, line)) {
            ADD_FAILURE() << "no slot labelled \"" << label << "\" in:\n" << r.out;
            return "0";
        }
        return m[1];
    }
    ProcessResult init(const std::string& slot, const std::string& label, const std::string& so_pin, bool yes) {
        std::vector<std::string> args = {"--transcript", m_transcript.string(), "token", "init", "--slot", slot,
                                          "--label", label};
        if (yes) args.push_back("--yes");
        return run_ceremony(args, {.env = {"TRUSTKEY_CEREMONY_SO_PIN=" + so_pin, "TRUSTKEY_CEREMONY_NEW_PIN=Qn-4321"}});
    }
    bool has_root_key(const std::string& label, const std::string& pin) {
        return pkcs11_tool("--token-label " + label + " --login --pin " + pin + " --list-objects").find("root-") !=
               std::string::npos;
    }
    void make_root_key() {
        const ProcessResult r = run_ceremony({"--transcript", m_transcript.string(), "root", "generate", "--gun",
                                              "example.com/app", "--token", m_token.uri(), "--out",
                                              (m_dir / "keys").string()},
                                             {.env = {"TRUSTKEY_CEREMONY_PIN=1111"}});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        ASSERT_TRUE(has_root_key("existing", "1111"));
    }

    SoftHsmToken m_token{"existing", "1111", "5678"};
    TempDir m_dir{"ceremony-token"};
    std::filesystem::path m_transcript = m_dir / "transcript.jsonl";
};

TEST_F(TokenInitTest, InitializesTheFreeSlot) {
    const ProcessResult r = init(slot_of(""), "fresh", "Qs-9999", false);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("initialized token fresh (serial "), std::string::npos) << r.out;
    // The new user PIN logs in (pkcs11-tool, not trustkey).
    const CommandResult login = run_command("pkcs11-tool --module " + SoftHsmToken::module() +
                                            " --token-label fresh --login --pin Qn-4321 --list-objects 2>&1");
    EXPECT_EQ(login.exit_code, 0) << login.output;
    std::ifstream in(m_transcript);
    std::string line, last;
    while (std::getline(in, line)) last = line;
    const auto entry = nlohmann::json::parse(last);
    EXPECT_EQ(entry["step"], "token init");
    EXPECT_EQ(entry["details"]["label"], "fresh");
    EXPECT_EQ(entry["details"]["erased"], false);
    EXPECT_EQ(last.find("Qn-4321"), std::string::npos);
    EXPECT_EQ(last.find("Qs-9999"), std::string::npos);
}

TEST_F(TokenInitTest, ErasingAsksFirst) {
    make_root_key();
    const ProcessResult r = init(slot_of("existing"), "renamed", "5678", false);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("token existing (serial "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("initializing it erases every key on it (give --yes"), std::string::npos) << r.err;
    EXPECT_TRUE(has_root_key("existing", "1111"));
}

TEST_F(TokenInitTest, WrongSoPinChangesNothing) {
    make_root_key();
    const ProcessResult r = init(slot_of("existing"), "renamed", "0000", true);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("wrong SO PIN for token existing (serial "), std::string::npos) << r.err;
    EXPECT_TRUE(has_root_key("existing", "1111"));
}

TEST_F(TokenInitTest, ConfirmedEraseReplacesTheToken) {
    make_root_key();
    const ProcessResult r = init(slot_of("existing"), "renamed", "5678", true);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(pkcs11_tool("--list-token-slots").find("renamed"), std::string::npos);
    EXPECT_FALSE(has_root_key("renamed", "Qn-4321"));
    EXPECT_EQ(pkcs11_tool("--list-token-slots").find("label        : existing"), std::string::npos);
}

TEST_F(TokenInitTest, UnknownSlotIsNamed) {
    const ProcessResult r = init("424242", "x", "5678", true);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no token in slot 424242"), std::string::npos) << r.err;
}

} // namespace
} // namespace trustkey::test
