// The user units as this build makes them (systemd/): systemd-analyze verify and security
// from Debian's systemd, the environment.d file through systemd's own generator, and the
// socket path they name against the one every trustkey client uses.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fixtures/process.h"
#include "tests/fixtures/temp_dir.h"
#include "trustkey/proto/client.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

const fs::path kUnitDir = TRUSTKEY_BUILT_UNIT_DIR;
// The highest overall exposure `systemd-analyze security` may give trustkeyd.service
// (README, "As a systemd user service").
constexpr double kMaxExposure = 2.0;
constexpr const char* kEnvironmentGenerator =
    "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator";

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The values of `key=` lines in a unit file, in order.
std::vector<std::string> unit_values(const std::string& text, const std::string& key) {
    std::vector<std::string> values;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key + "=", 0) == 0) values.push_back(line.substr(key.size() + 1));
    return values;
}

// systemd-analyze in user mode needs a runtime directory of its own.
class UnitsTest : public ::testing::Test {
protected:
    UnitsTest() { fs::permissions(m_runtime.path(), fs::perms::owner_all, fs::perm_options::replace); }

    ProcessResult analyze(std::vector<std::string> args) const {
        args.insert(args.begin(), "systemd-analyze");
        return run_process(args, {.env = {"XDG_RUNTIME_DIR=" + m_runtime.path().string()}});
    }

    TempDir m_runtime{"trustkey-units-run"};
};

TEST_F(UnitsTest, BuiltServiceStartsTheBuiltDaemonInTheForeground) {
    const auto exec = unit_values(read_text(kUnitDir / "trustkeyd.service"), "ExecStart");
    ASSERT_EQ(exec.size(), 1u);
    EXPECT_EQ(exec[0], std::string(TRUSTKEYD_PATH) + " --foreground");
    EXPECT_EQ(unit_values(read_text(kUnitDir / "trustkeyd.service"), "Type"), std::vector<std::string>{"notify"});
}

TEST_F(UnitsTest, VerifyPassesOnEveryUnit) {
    const auto r = analyze({"verify", "--user", (kUnitDir / "trustkeyd.socket").string(),
                            (kUnitDir / "trustkeyd.service").string()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    // Warnings (unknown keys, bad values) leave the exit code at 0: there must be none.
    EXPECT_EQ(r.out + r.err, "");
}

TEST_F(UnitsTest, InstalledUnitsStartTheInstalledDaemonAndPassVerify) {
    // cmake --install into a prefix of the test's: the units where a user manager looks
    // (lib/systemd/user), ExecStart the installed trustkeyd, environment.d beside them.
    TempDir prefix("trustkey-units-install");
    const auto r = run_process({TRUSTKEY_CMAKE_COMMAND, "--install", TRUSTKEY_BUILD_DIR, "--prefix",
                                prefix.path().string()},
                               {.unset = {"DESTDIR"}});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const fs::path units = prefix / "lib/systemd/user";
    const auto exec = unit_values(read_text(units / "trustkeyd.service"), "ExecStart");
    ASSERT_EQ(exec.size(), 1u);
    EXPECT_EQ(exec[0], (prefix / "bin/trustkeyd").string() + " --foreground");
    EXPECT_TRUE(fs::is_regular_file(prefix / "bin/trustkeyd"));
    EXPECT_TRUE(fs::is_regular_file(prefix / "bin/trustkey"));
    EXPECT_EQ(read_text(units / "trustkeyd.socket"), read_text(kUnitDir / "trustkeyd.socket"));
    EXPECT_EQ(read_text(prefix / "lib/environment.d/60-trustkey.conf"), read_text(kUnitDir / "60-trustkey.conf"));
    const auto v =
        analyze({"verify", "--user", (units / "trustkeyd.socket").string(), (units / "trustkeyd.service").string()});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_EQ(v.out + v.err, "");
}

TEST_F(UnitsTest, VerifyReportsAMistakeInTheService) {
    // The check above has teeth: the same service with a misspelt key is reported.
    TempDir dir("trustkey-units-bad");
    std::string text = read_text(kUnitDir / "trustkeyd.service");
    const auto at = text.find("NoNewPrivileges=");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, std::string("NoNewPrivileges=").size(), "NoNewPrivilege=");
    std::ofstream(dir / "trustkeyd.service") << text;
    fs::copy_file(kUnitDir / "trustkeyd.socket", dir / "trustkeyd.socket");
    const auto r =
        analyze({"verify", "--user", (dir / "trustkeyd.socket").string(), (dir / "trustkeyd.service").string()});
    EXPECT_NE((r.out + r.err).find("NoNewPrivilege"), std::string::npos) << r.out << r.err;
}

TEST_F(UnitsTest, SecurityExposureStaysUnderTheThreshold) {
    const auto r = analyze({"security", "--user", "--offline=yes", "--no-pager",
                            "--threshold=" + std::to_string(static_cast<int>(kMaxExposure * 10)),
                            (kUnitDir / "trustkeyd.service").string()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    std::smatch m;
    const std::string all = r.out + r.err;
    ASSERT_TRUE(std::regex_search(all, m, std::regex(R"(Overall exposure level for trustkeyd\.service: ([0-9.]+))")))
        << all;
    EXPECT_LE(std::stod(m[1].str()), kMaxExposure) << all;
    // What the sandbox is for: no network, no new privileges, no writable executable memory.
    for (const char* line : {"✓ RestrictAddressFamilies=~AF_(INET|INET6)", "✓ NoNewPrivileges=",
                             "✓ MemoryDenyWriteExecute=", "✓ SystemCallArchitectures=", "✓ LockPersonality=",
                             "✓ PrivateTmp=", "✓ PrivateNetwork="})
        EXPECT_NE(all.find(line), std::string::npos) << line << "\n" << all;
}

TEST_F(UnitsTest, SandboxLeavesTheTokensReachable) {
    const std::string text = read_text(kUnitDir / "trustkeyd.service");
    // The TPM (/dev/tpmrm0): no private /dev and no device list.
    for (const char* key : {"PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock"})
        EXPECT_TRUE(unit_values(text, key).empty()) << key;
    // pcscd (/run/pcscd/pcscd.comm, YubiKeys through their PKCS#11 modules): Unix sockets allowed,
    // /run not made inaccessible.
    EXPECT_EQ(unit_values(text, "RestrictAddressFamilies"), std::vector<std::string>{"AF_UNIX"});
    for (const auto& v : unit_values(text, "InaccessiblePaths")) EXPECT_EQ(v.find("/run"), std::string::npos) << v;
    // Writable: the embedded token and TPM key files, the socket directory.
    EXPECT_EQ(unit_values(text, "ProtectSystem"), std::vector<std::string>{"strict"});
    EXPECT_EQ(unit_values(text, "ReadWritePaths"), std::vector<std::string>{"%h/.local/share/trustkey %t/trustkey"});
}

TEST_F(UnitsTest, SocketIsWhereEveryClientLooks) {
    const std::string text = read_text(kUnitDir / "trustkeyd.socket");
    EXPECT_EQ(unit_values(text, "ListenStream"), std::vector<std::string>{"%t/trustkey/agent.sock"});
    EXPECT_EQ(unit_values(text, "SocketMode"), std::vector<std::string>{"0600"});
    EXPECT_EQ(unit_values(text, "DirectoryMode"), std::vector<std::string>{"0700"});
    // %t is $XDG_RUNTIME_DIR in a user manager: the clients' default without TRUSTKEY_SOCK.
    ::unsetenv("TRUSTKEY_SOCK");
    ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
    EXPECT_EQ(proto::Client::default_socket_path(), "/run/user/4242/trustkey/agent.sock");
}

TEST_F(UnitsTest, EnvironmentDSetsTheClientsSocket) {
    // systemd's own environment.d generator, reading the file from $XDG_CONFIG_HOME/environment.d.
    TempDir config("trustkey-units-config");
    fs::create_directories(config / "environment.d");
    fs::copy_file(kUnitDir / "60-trustkey.conf", config / "environment.d" / "60-trustkey.conf");
    const auto r = run_process({kEnvironmentGenerator}, {.env = {"XDG_CONFIG_HOME=" + config.path().string(),
                                                                 "XDG_RUNTIME_DIR=/run/user/4242"},
                                                         .unset = {"TRUSTKEY_SOCK"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto sock = unit_values(r.out, "TRUSTKEY_SOCK");
    ASSERT_EQ(sock.size(), 1u) << r.out;
    EXPECT_EQ(sock[0], "/run/user/4242/trustkey/agent.sock");
    // The same path the clients use with the variable set and without it.
    ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
    ::unsetenv("TRUSTKEY_SOCK");
    EXPECT_EQ(proto::Client::default_socket_path(), sock[0]);
    ::setenv("TRUSTKEY_SOCK", sock[0].c_str(), 1);
    EXPECT_EQ(proto::Client::default_socket_path(), sock[0]);
}

} // namespace
} // namespace trustkey::test
