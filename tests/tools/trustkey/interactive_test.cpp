// The terminal paths of the CLI (PIN prompt, delete confirmation), run under a
// pseudo-terminal made by script(1), with the answers typed in through it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/tools/trustkey/cli_expect.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {
namespace {

TEST(Terminal, DeleteAsksAndHonoursTheAnswer) {
    CliDaemon daemon;
    const auto gen = daemon.trustkey({"key", "generate", "victim"});
    ASSERT_TRUE(succeeded(gen));

    const auto no = daemon.trustkey_on_terminal({"key", "delete", "victim"}, "n\n");
    EXPECT_EQ(no.exit_code, 1) << describe(no);
    EXPECT_NE(no.out.find("Delete key " + chomp(gen.out)), std::string::npos) << no.out;
    EXPECT_TRUE(succeeded(daemon.trustkey({"key", "public", "victim"})));

    const auto yes = daemon.trustkey_on_terminal({"key", "delete", "victim"}, "y\n");
    EXPECT_EQ(yes.exit_code, 0) << describe(yes);
    EXPECT_EQ(daemon.trustkey({"key", "list", "--json"}).out, "[]\n");
}

TEST(Terminal, LoginPromptsForThePin) {
    SoftHsmToken token{"cli-tty", "11223344", "44332211"};
    const std::string toml = "pinentry = \"none\"\n[[pkcs11]]\nname = \"hsm\"\nmodule = \"" + SoftHsmToken::module() + "\"\ntoken = \"" +
                             token.uri() + "\"\n";
    CliDaemon daemon(
        CliDaemon::Options{.config_toml = toml, .env = {"SOFTHSM2_CONF=" + token.conf_path().string()}});

    const auto wrong = daemon.trustkey_on_terminal({"login"}, "00000000\n", {.unset = {"TRUSTKEY_PIN"}});
    EXPECT_EQ(wrong.exit_code, 1) << describe(wrong);
    EXPECT_NE(wrong.out.find("Enter PIN for token 'hsm': "), std::string::npos) << wrong.out;
    EXPECT_NE(wrong.out.find("wrong PIN for token 'hsm'"), std::string::npos) << wrong.out;

    const auto right = daemon.trustkey_on_terminal({"login"}, token.user_pin() + "\n", {.unset = {"TRUSTKEY_PIN"}});
    EXPECT_EQ(right.exit_code, 0) << describe(right);
    EXPECT_EQ(nlohmann::json::parse(daemon.trustkey({"status", "--json"}).out)["tokens"][0]["logged_in"], true);
}

} // namespace
} // namespace trustkey::test
