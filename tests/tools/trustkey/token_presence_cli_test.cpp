// `trustkey status`, `sign` and `key list` while a token is pulled out of the running trustkeyd
// and after it is put back: a real SoftHSM2 token behind the unplug module
// (tests/support/unplug_pkcs11), absent while the control file exists.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/cli_daemon.h"
#include "tests/tools/trustkey/cli_expect.h"

namespace trustkey::test {
namespace {

using namespace std::chrono_literals;

TEST(TokenPresence, StatusSignAndListShowAPulledTokenAndItSignsOnceBack) {
    SoftHsmToken token{"alpha", "1234"};
    TempDir control("trustkey-unplug");
    const std::filesystem::path pulled = control / "pulled";
    const std::string toml = "token_poll_seconds = 1\npinentry = \"none\"\n[[pkcs11]]\nname = \"yubi\"\nmodule = \"" +
                             std::string(UNPLUG_PKCS11_PATH) + "\"\ntoken = \"" + token.uri() +
                             "\"\npin_env = \"ALPHA_PIN\"\n";
    CliDaemon daemon(CliDaemon::Options{
        .config_toml = toml,
        .env = {"SOFTHSM2_CONF=" + token.conf_path().string(), "ALPHA_PIN=1234",
                "TRUSTKEY_TEST_UNPLUG_FILE=" + pulled.string(), "TRUSTKEY_TEST_UNPLUG_TOKEN=alpha"}});
    ASSERT_TRUE(succeeded(daemon.trustkey({"key", "generate", "rel"})));
    const std::string digest(64, 'a');
    ASSERT_TRUE(succeeded(daemon.trustkey({"sign", "rel", "--digest", digest, "--hash", "sha256"})));

    std::ofstream(pulled) << "out\n";
    const auto sign = daemon.trustkey({"sign", "rel", "--digest", digest, "--hash", "sha256"});
    EXPECT_TRUE(failed_with_one_line(sign, 1));
    EXPECT_EQ(sign.err.rfind("trustkey: token absent: backend 'yubi': token 'alpha' (serial ", 0), 0u) << sign.err;
    EXPECT_NE(sign.err.find("is absent; plug it in to use its keys"), std::string::npos) << sign.err;

    const auto text = daemon.trustkey({"status"});
    ASSERT_TRUE(succeeded(text));
    EXPECT_NE(text.out.find("yubi     pkcs11  alpha  no"), std::string::npos) << text.out;
    const auto json = nlohmann::json::parse(daemon.trustkey({"status", "--json"}).out);
    const auto& t = json["tokens"][0];
    EXPECT_EQ(t["present"], false) << json.dump();
    EXPECT_EQ(t["label"], "alpha") << json.dump();
    EXPECT_EQ(t["key_count"], 1) << json.dump();
    EXPECT_NE(t["error"].get<std::string>().find("plug it in"), std::string::npos) << json.dump();
    const auto list = daemon.trustkey({"key", "list"});
    EXPECT_EQ(list.exit_code, 1);
    EXPECT_NE(list.err.find("token absent"), std::string::npos) << list.err;

    std::filesystem::remove(pulled);
    bool back = false;
    for (auto deadline = std::chrono::steady_clock::now() + 5s; !back && std::chrono::steady_clock::now() < deadline;) {
        const auto now = nlohmann::json::parse(daemon.trustkey({"status", "--json"}).out);
        back = now["tokens"][0]["present"] == true && now["tokens"][0]["logged_in"] == true;
        if (!back) std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(back) << daemon.log();
    EXPECT_TRUE(succeeded(daemon.trustkey({"sign", "rel", "--digest", digest, "--hash", "sha256"})));
    // trustkeyd's own check tells the pull and the return once each, though requests saw them first.
    bool logged = false;
    for (auto deadline = std::chrono::steady_clock::now() + 5s; !logged && std::chrono::steady_clock::now() < deadline;) {
        logged = daemon.log().find("event=token_added backend=\"yubi\"") != std::string::npos;
        if (!logged) std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(logged) << daemon.log();
    EXPECT_NE(daemon.log().find("event=token_removed backend=\"yubi\""), std::string::npos) << daemon.log();
}

} // namespace
} // namespace trustkey::test
