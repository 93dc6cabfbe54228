// Start-up, socket safety, peer credentials and shutdown of the real trustkeyd.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <thread>
#include <fstream>

#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/command.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using StartupTest = TrustkeydTest;
constexpr uid_t kNobody = 65534;

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode;
}

// Waits for a daemon expected to refuse to start; returns its log.
std::string expect_refused(std::unique_ptr<TrustkeydInstance> p) {
    EXPECT_EQ(p->wait_exit(), 1);
    return p->log();
}

TEST_F(StartupTest, SigtermShutsDownCleanlyAndModesArePrivate) {
    start();
    EXPECT_TRUE(S_ISSOCK(mode_of(socket())));
    EXPECT_EQ(mode_of(socket()) & 07777, 0600u);
    EXPECT_EQ(mode_of(socket().parent_path()) & 07777, 0700u);
    RawConnection idle(socket());  // an idle connection must not hold up shutdown
    ASSERT_TRUE(idle.hello());
    expect_serves();
    stop_and_check();
    EXPECT_TRUE(idle.closed_by_peer(std::chrono::seconds(5)));
    EXPECT_NE(m_daemon->log().find("event=stopped"), std::string::npos);
}

TEST_F(StartupTest, SecondDaemonOnSameSocketRefuses) {
    start();
    const auto log = expect_refused(launch(options()));
    EXPECT_NE(log.find("another trustkeyd is already listening"), std::string::npos) << log;
    EXPECT_TRUE(fs::exists(socket()));
    expect_serves();
}

TEST_F(StartupTest, StaleSocketIsReplaced) {
    fs::create_directory(m_home.runtime() / "trustkey");
    fs::permissions(m_home.runtime() / "trustkey", fs::perms::owner_all);
    {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, socket().c_str(), sizeof addr.sun_path - 1);
        ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        ::close(fd);  // left behind, nobody listening
    }
    ASSERT_TRUE(fs::exists(socket()));
    ASSERT_FALSE(socket_accepts(socket()));
    start();
    expect_serves();
}

TEST_F(StartupTest, FileThatIsNotASocketRefused) {
    fs::create_directory(m_home.runtime() / "trustkey");
    fs::permissions(m_home.runtime() / "trustkey", fs::perms::owner_all);
    std::ofstream(socket()) << "not a socket";
    const auto log = expect_refused(launch(options()));
    EXPECT_NE(log.find("not a socket"), std::string::npos) << log;
    EXPECT_TRUE(fs::is_regular_file(socket()));
}

TEST_F(StartupTest, OpenSocketDirectoryRefused) {
    fs::create_directory(m_home.runtime() / "trustkey");
    ::chmod((m_home.runtime() / "trustkey").c_str(), 0777);
    const auto log = expect_refused(launch(options()));
    EXPECT_NE(log.find("mode 0777"), std::string::npos) << log;
    EXPECT_FALSE(fs::exists(socket()));
}

TEST_F(StartupTest, SocketDirectoryOfAnotherUserRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
    fs::create_directory(m_home.runtime() / "trustkey");
    ::chmod((m_home.runtime() / "trustkey").c_str(), 0700);
    ASSERT_EQ(::chown((m_home.runtime() / "trustkey").c_str(), kNobody, kNobody), 0);
    const auto log = expect_refused(launch(options()));
    EXPECT_NE(log.find("owned by uid 65534"), std::string::npos) << log;
}

TEST_F(StartupTest, SocketFlagAndConfigChooseThePath) {
    const fs::path dir = m_home / "custom";
    const std::string cfg = write_config("socket = \"" + (dir / "from-config.sock").string() + "\"\n");
    {
        auto o = options({"--config", cfg});
        o.socket = dir / "from-flag.sock";  // passed with --socket
        const auto p = launch(std::move(o));
        ASSERT_TRUE(p->wait_ready()) << p->log();
        EXPECT_FALSE(fs::exists(dir / "from-config.sock"));
        EXPECT_EQ(p->stop(), 0);
    }
    auto o = options({"--config", cfg});
    o.expect_socket = dir / "from-config.sock";
    const auto p = launch(std::move(o));
    ASSERT_TRUE(p->wait_ready()) << p->log();
    EXPECT_EQ(p->stop(), 0);
    EXPECT_FALSE(fs::exists(dir / "from-config.sock"));
}

TEST_F(StartupTest, BadConfigIsOneClearLine) {
    const std::string cfg = write_config("socket = \"/x\"\nsurprise = 1\n");
    const auto p = launch(options({"--config", cfg}));
    EXPECT_EQ(p->wait_exit(), 1);
    const auto log = p->log();
    EXPECT_NE(log.find("unknown key \"surprise\""), std::string::npos) << log;
    EXPECT_NE(log.find(cfg), std::string::npos) << log;
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

TEST_F(StartupTest, DaemonizedParentExitsOnceListening) {
    // Without --foreground (TrustkeydInstance always passes it), through the shell.
    std::string cmd = "env -u TRUSTKEY_SOCK";
    for (const auto& entry : m_home.env()) cmd += " " + shell_quote(entry);
    cmd += " " + shell_quote(TRUSTKEYD_PATH) + " --log-level warn 2>" + shell_quote((m_home / "bg.log").string());
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    // The parent exited 0 only after the socket was listening.
    EXPECT_TRUE(socket_accepts(socket()));
    auto c = client();
    EXPECT_EQ(c.status().tokens_size(), 1);
    // Stop the background daemon: find its pid through the peer credentials of a connection.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket().c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    struct ucred cred {};
    socklen_t len = sizeof cred;
    ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len), 0);
    ::close(fd);
    ASSERT_GT(cred.pid, 1);
    ASSERT_EQ(::kill(cred.pid, SIGTERM), 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (fs::exists(fs::symlink_status(socket())) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(fs::exists(fs::symlink_status(socket())));
}

// The daemon runs as nobody with allow_root = false; this test process (root) is then a
// peer of another uid and must be closed before any byte is read.
TEST_F(StartupTest, PeerOfAnotherUidRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the daemon as another user";
    ::chmod(m_home.root().c_str(), 0755);
    for (const auto& d : {m_home.runtime(), m_home.data(), m_home.config()})
        ASSERT_EQ(::chown(d.c_str(), kNobody, kNobody), 0);
    const std::string cfg = write_config("allow_root = false\n");
    ::chmod(cfg.c_str(), 0644);
    auto o = options({"--config", cfg});
    o.run_as = kNobody;
    o.log_file = m_home / "nobody.log";
    std::ofstream(o.log_file).flush();
    ::chown(o.log_file.c_str(), kNobody, kNobody);
    start(std::move(o));

    RawConnection raw(socket());
    ASSERT_TRUE(raw.connected());
    pb::Request hello;
    hello.set_id(1);
    hello.mutable_hello()->set_min_version(1);
    hello.mutable_hello()->set_max_version(1);
    raw.send_request(hello);  // may already fail: the daemon closes at once
    EXPECT_FALSE(raw.read_response(std::chrono::seconds(5)));
    EXPECT_TRUE(raw.closed_by_peer(std::chrono::seconds(5)));
    // Bounded wait for the log line (written after the close).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (m_daemon->log().find("event=peer_refused caller_uid=0") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_NE(m_daemon->log().find("event=peer_refused caller_uid=0"), std::string::npos) << m_daemon->log();
    EXPECT_TRUE(m_daemon->running());
}

} // namespace
} // namespace trustkey::test
