// `trustkey stop` against the real trustkeyd, and with no daemon at all.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/cli_daemon.h"
#include "tests/tools/trustkey/cli_expect.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

TEST(Stop, StopsTheDaemonAndWaitsUntilItsSocketIsGone) {
    CliDaemon daemon;
    ASSERT_TRUE(succeeded(daemon.trustkey({"status"})));
    const auto r = daemon.trustkey({"stop"});
    EXPECT_TRUE(succeeded(r));
    EXPECT_EQ(r.out.rfind("trustkeyd (pid ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find(") stopped\n"), std::string::npos) << r.out;
    // trustkey stop returned only once the socket was removed.
    EXPECT_FALSE(fs::exists(fs::symlink_status(daemon.socket_path())));
    EXPECT_NE(daemon.log().find("event=stop reason=stop_request"), std::string::npos) << daemon.log();

    // Asked again, there is nothing left to stop.
    const auto again = daemon.trustkey({"stop"});
    EXPECT_TRUE(failed_with_one_line(again, 1));
    EXPECT_EQ(again.err, "trustkey: no trustkeyd is running at " + daemon.socket_path().string() + "\n");
}

TEST(Stop, NoDaemonIsOneLine) {
    TempDir dir;
    const std::string sock = (dir / "nobody.sock").string();
    const auto r = run_trustkey({"--socket", sock, "stop"});
    EXPECT_TRUE(failed_with_one_line(r, 1));
    EXPECT_EQ(r.err, "trustkey: no trustkeyd is running at " + sock + "\n");
}

} // namespace
} // namespace trustkey::test
