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
#include <iterator>

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

// Starts trustkeyd without --foreground through the shell, its standard error going to
// `err_file`; returns once the parent has exited (the socket then listens).
void start_daemonized(const TrustkeydHome& home, const std::vector<std::string>& args, const fs::path& err_file) {
    std::string cmd = "env -u TRUSTKEY_SOCK";
    for (const auto& entry : home.env()) cmd += " " + shell_quote(entry);
    cmd += " " + shell_quote(TRUSTKEYD_PATH);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " 2>" + shell_quote(err_file.string());
    ASSERT_EQ(std::system(cmd.c_str()), 0);
}

bool wait_until_gone(const fs::path& path, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fs::exists(fs::symlink_status(path))) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The line of `log` holding `needle`, or "" when none does.
std::string line_with(const std::string& log, const std::string& needle) {
    const auto at = log.find(needle);
    if (at == std::string::npos) return {};
    const auto begin = log.rfind('\n', at);
    const auto end = log.find('\n', at);
    return log.substr(begin == std::string::npos ? 0 : begin + 1,
                      (end == std::string::npos ? log.size() : end) - (begin == std::string::npos ? 0 : begin + 1));
}

TEST_F(StartupTest, DaemonizedLogsToTheLogFileAndNothingToTheShellsStderr) {
    const fs::path err = m_home / "shell-stderr";
    const fs::path log_file = m_home / "trustkeyd.log";
    start_daemonized(m_home, {"--log-file", log_file.string()}, err);
    {
        auto c = client();
        EXPECT_EQ(c.status().tokens_size(), 1);
        const auto key = c.generate_key("logged", pb::KEY_TYPE_ECDSA_P256);
        c.sign(key.id(), pb::HASH_SHA256, digest_of("x"));
        // A lookup by a name nobody has made yet, as a new repository's publish does.
        EXPECT_THROW(c.public_key("root-not-made-yet"), proto::ClientError);
        // A real failure stays a warning.
        EXPECT_THROW(c.sign("no-such-key", pb::HASH_SHA256, digest_of("x")), proto::ClientError);
        const auto reply = c.stop();
        EXPECT_GT(reply.pid(), 1u);
    }
    EXPECT_TRUE(wait_until_gone(socket())) << "socket left behind";
    // Bounded wait for the last line, written as the daemon ends.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (read_file(log_file).find("event=stopped") == std::string::npos && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));

    EXPECT_EQ(read_file(err), "") << "the daemon wrote to the launching shell's stderr";
    const std::string log = read_file(log_file);
    EXPECT_EQ(mode_of(log_file) & 0777, 0600u);
    EXPECT_NE(log.find("event=listening"), std::string::npos) << log;
    EXPECT_NE(log.find("op=generate_key"), std::string::npos) << log;
    const std::string not_found = line_with(log, "key=\"root-not-made-yet\"");
    EXPECT_NE(not_found.find("status=key_not_found"), std::string::npos) << log;
    EXPECT_NE(not_found.find(" info "), std::string::npos) << not_found;
    const std::string real_failure = line_with(log, "key=\"no-such-key\"");
    EXPECT_NE(real_failure.find(" warning "), std::string::npos) << real_failure;
    EXPECT_NE(log.find("event=stop reason=stop_request caller_uid="), std::string::npos) << log;
    EXPECT_NE(log.find("event=stopped"), std::string::npos) << log;
}

TEST_F(StartupTest, DaemonizedWithoutLogFileWritesNothingToTheShellsStderr) {
    const fs::path err = m_home / "shell-stderr";
    start_daemonized(m_home, {"--log-level", "debug"}, err);
    {
        auto c = client();
        EXPECT_EQ(c.status().tokens_size(), 1);
        EXPECT_THROW(c.public_key("absent"), proto::ClientError);
        c.stop();
    }
    EXPECT_TRUE(wait_until_gone(socket())) << "socket left behind";
    EXPECT_EQ(read_file(err), "") << "the daemon wrote to the launching shell's stderr";
}

TEST_F(StartupTest, LogFileFromTheConfiguration) {
    const fs::path log_file = m_home / "from-config.log";
    start({"--config", write_config("log_file = \"" + log_file.string() + "\"\n")});
    expect_serves();
    stop_and_check();
    const std::string log = read_file(log_file);
    EXPECT_NE(log.find("event=listening"), std::string::npos) << log;
    EXPECT_NE(log.find("event=stop reason=signal signal=SIGTERM"), std::string::npos) << log;
    EXPECT_EQ(m_daemon->log(), "") << "with a log file, nothing goes to stderr";
}

TEST_F(StartupTest, LogFileThatCannotBeOpenedIsOneClearLine) {
    const auto p = launch(options({"--log-file", (m_home / "no-such-dir" / "x.log").string()}));
    EXPECT_EQ(p->wait_exit(), 1);
    const auto log = p->log();
    EXPECT_NE(log.find("trustkeyd: cannot start: cannot open the log file"), std::string::npos) << log;
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
    EXPECT_FALSE(fs::exists(fs::symlink_status(socket())));
}

TEST_F(StartupTest, SighupStopsCleanlyWithALogLine) {
    start();
    expect_serves();
    ASSERT_EQ(::kill(m_daemon->pid(), SIGHUP), 0);
    EXPECT_EQ(m_daemon->wait_exit(), 0) << m_daemon->log();
    EXPECT_FALSE(fs::exists(fs::symlink_status(socket()))) << "socket left behind";
    EXPECT_NE(m_daemon->log().find("event=stop reason=signal signal=SIGHUP"), std::string::npos) << m_daemon->log();
    EXPECT_NE(m_daemon->log().find("event=stopped"), std::string::npos) << m_daemon->log();
}

TEST_F(StartupTest, StopRequestIsAnsweredThenTheDaemonStops) {
    start();
    RawConnection idle(socket());  // another client's idle connection does not hold up the stop
    ASSERT_TRUE(idle.hello());
    auto c = client();
    const auto reply = c.stop();
    EXPECT_EQ(static_cast<pid_t>(reply.pid()), m_daemon->pid());
    EXPECT_EQ(m_daemon->wait_exit(), 0) << m_daemon->log();
    EXPECT_FALSE(fs::exists(fs::symlink_status(socket()))) << "socket left behind";
    EXPECT_TRUE(idle.closed_by_peer(std::chrono::seconds(5)));
    const std::string log = m_daemon->log();
    EXPECT_NE(log.find("event=stop reason=stop_request caller_uid=" + std::to_string(::getuid()) +
                       " caller_pid=" + std::to_string(::getpid())),
              std::string::npos)
        << log;
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
