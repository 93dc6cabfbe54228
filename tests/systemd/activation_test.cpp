// trustkeyd under a service manager, with real tools: started through socket activation by
// Debian's systemd-socket-activate (the first request through the activated socket is served;
// a stop and a new connection start it again, with its keys), with $NOTIFY_SOCKET (READY=1
// once it serves, STOPPING=1 when it stops, and no fork), and refusing sockets it cannot serve.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/core/unique_fd.h"
#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/trustkeyd_home.h"
#include "tests/fixtures/trustkeyd_instance.h"
#include "tests/systemd/activation_support.h"
#include "trustkey/proto/client.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kStartWait = 60s;

sockaddr_un address_of(const fs::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string s = path.string();
    if (s.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + s);
    std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
    return addr;
}

// A process forked here, killed and reaped if the test leaves it running.
class Child {
public:
    explicit Child(pid_t pid) : m_pid(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (m_status) return;
        ::kill(m_pid, SIGKILL);
        int st = 0;
        ::waitpid(m_pid, &st, 0);
    }
    pid_t pid() const noexcept { return m_pid; }
    // The exit code once it ended within `timeout` (-1: a signal ended it); nullopt while it runs.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        wait_for(
            [this] {
                int st = 0;
                if (::waitpid(m_pid, &st, WNOHANG) == m_pid) m_status = st;
                return m_status.has_value();
            },
            timeout);
        if (!m_status) return std::nullopt;
        return WIFEXITED(*m_status) ? WEXITSTATUS(*m_status) : -1;
    }

private:
    pid_t m_pid;
    std::optional<int> m_status;
};

// What a socket unit is: the listening socket, bound and held here for the whole test, and
// handed to each activation (LISTEN_FDS=1 through systemd-socket-activate, which waits for a
// connection and then execs trustkeyd in its place).
class ManagerSocket {
public:
    explicit ManagerSocket(const fs::path& path) : m_path(path) {
        fs::create_directories(path.parent_path());
        fs::permissions(path.parent_path(), fs::perms::owner_all, fs::perm_options::replace);
        m_fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const sockaddr_un addr = address_of(path);
        if (!m_fd || ::bind(m_fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
            ::chmod(path.c_str(), 0600) != 0 || ::listen(m_fd.get(), 16) != 0)
            throw std::runtime_error("cannot listen on " + path.string() + ": " + std::strerror(errno));
        struct stat st {};
        ::stat(path.c_str(), &st);
        m_ino = st.st_ino;
    }

    // True while the socket file is still the one bound here.
    bool file_unchanged() const {
        struct stat st {};
        return ::lstat(m_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == m_ino;
    }

    // Starts systemd-socket-activate with the held socket as fd 3; output appended to `log`.
    std::unique_ptr<Child> activate(const TrustkeydHome& home, const fs::path& log) const {
        std::vector<std::string> argv{"/usr/bin/systemd-socket-activate"};
        for (auto& a : activator_env_args(home)) argv.push_back(a);
        argv.push_back(TRUSTKEYD_PATH);
        argv.push_back("--log-level");
        argv.push_back("debug");
        std::vector<std::string> env{"LISTEN_FDS=1", "PATH=/usr/bin:/bin"};
        // LISTEN_PID is the child's own pid, written in the child (no allocation after fork).
        std::string listen_pid = "LISTEN_PID=" + std::string(16, '\0');
        auto cargv = c_strings(argv);
        auto cenv = c_strings(env);
        cenv.insert(cenv.end() - 1, listen_pid.data());
        UniqueFd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
        UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (!out || !null) throw std::runtime_error("cannot open " + log.string());
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid == 0) {
            char* digits = listen_pid.data() + std::strlen("LISTEN_PID=");
            char tmp[16];
            int n = 0;
            for (pid_t p = ::getpid(); p > 0; p /= 10) tmp[n++] = static_cast<char>('0' + p % 10);
            for (int i = 0; i < n; ++i) digits[i] = tmp[n - 1 - i];
            digits[n] = '\0';
            ::dup2(null.get(), 0);
            ::dup2(out.get(), 1);
            ::dup2(out.get(), 2);
            ::dup2(m_fd.get(), 3);  // dup2 clears close-on-exec on fd 3
            ::execve(cargv[0], cargv.data(), cenv.data());
            ::_exit(127);
        }
        return std::make_unique<Child>(pid);
    }

private:
    fs::path m_path;
    UniqueFd m_fd;
    ino_t m_ino = 0;
};

class SocketActivationTest : public ::testing::Test {
protected:
    SocketActivationTest() {
        fs::create_directories(socket().parent_path());
        fs::permissions(socket().parent_path(), fs::perms::owner_all, fs::perm_options::replace);
    }
    void TearDown() override {
        const std::string text = read_file(log());
        EXPECT_FALSE(has_sanitizer_report(text)) << text;
    }
    fs::path socket() const { return m_home.default_socket(); }
    fs::path log() const { return m_home / "activation.log"; }

    // systemd-socket-activate listening on `listen` (-l each) and starting trustkeyd.
    std::unique_ptr<BackgroundProcess> activator(const std::vector<std::string>& options) const {
        std::vector<std::string> argv{"systemd-socket-activate"};
        argv.insert(argv.end(), options.begin(), options.end());
        for (auto& a : activator_env_args(m_home)) argv.push_back(a);
        argv.push_back(TRUSTKEYD_PATH);
        argv.push_back("--log-level");
        argv.push_back("debug");
        return std::make_unique<BackgroundProcess>(argv, BackgroundOptions{.log_file = log()});
    }

    bool exists(const fs::path& p) const {
        std::error_code ec;
        return fs::exists(fs::symlink_status(p, ec));
    }

    TrustkeydHome m_home{"trustkey-activation"};
};

TEST_F(SocketActivationTest, FirstRequestThroughTheActivatedSocketIsServed) {
    auto activation = activator({"-l", socket().string()});
    ASSERT_TRUE(wait_for([&] { return exists(socket()); }, kStartWait)) << read_file(log());
    // Nothing starts trustkeyd before a client comes.
    std::this_thread::sleep_for(200ms);
    ASSERT_TRUE(activation->running()) << read_file(log());
    EXPECT_NE(comm_of(activation->pid()), "trustkeyd");

    auto client = proto::Client::connect(socket().string(), 60s);
    EXPECT_EQ(comm_of(activation->pid()), "trustkeyd");  // exec'd in the activator's place
    const auto key = client.generate_key("activated", pb::KEY_TYPE_ECDSA_P256);
    const auto digest = digest_of("first request through an activated socket");
    const auto reply = client.sign(key.id(), pb::HASH_SHA256, digest);
    expect_valid_signature(key, pb::HASH_SHA256, digest, reply.signature());  // OpenSSL's command line too

    const std::string daemon_log = read_file(log());
    EXPECT_NE(daemon_log.find("event=listening socket=\"" + socket().string() + "\" inherited=true"),
              std::string::npos)
        << daemon_log;
    EXPECT_EQ(daemon_log.find("event=inherited_socket"), std::string::npos) << daemon_log;  // same path as configured

    // SIGTERM: a clean stop that leaves the socket file to the one that made it.
    EXPECT_EQ(activation->stop(30s), 0) << read_file(log());
    EXPECT_TRUE(exists(socket()));
    EXPECT_NE(read_file(log()).find("event=stopped"), std::string::npos);
}

TEST_F(SocketActivationTest, StopAndReactivationKeepTheKeys) {
    ManagerSocket manager(socket());

    auto first = manager.activate(m_home, log());
    std::string key_id;
    {
        auto client = proto::Client::connect(socket().string(), 60s);
        key_id = client.generate_key("kept", pb::KEY_TYPE_ECDSA_P256).id();
    }
    ASSERT_EQ(comm_of(first->pid()), "trustkeyd");

    // trustkey stop: the daemon exits; its socket stays with the manager, and the CLI does not
    // wait for the file to go (it would fail after its wait with "its socket … is still there").
    const auto stop = run_process({TRUSTKEY_CLI_PATH, "stop"}, {.env = {"TRUSTKEY_SOCK=" + socket().string()}});
    EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
    EXPECT_EQ(stop.out, "trustkeyd (pid " + std::to_string(first->pid()) + ") stopped\n") << stop.err;
    EXPECT_EQ(first->wait_exit(30s), std::optional<int>(0)) << read_file(log());
    EXPECT_TRUE(manager.file_unchanged());

    // A client connecting now waits in the held socket's backlog; the manager starts trustkeyd
    // again for it, as systemd does when trustkeyd.socket sees a connection.
    auto keys = std::async(std::launch::async, [&] {
        auto client = proto::Client::connect(socket().string(), 60s);
        return client.list_keys();
    });
    EXPECT_EQ(keys.wait_for(300ms), std::future_status::timeout);  // no daemon answers yet
    auto second = manager.activate(m_home, log());
    const auto listed = keys.get();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].id(), key_id);
    EXPECT_EQ(listed[0].name(), "kept");
    EXPECT_EQ(comm_of(second->pid()), "trustkeyd");

    // The re-activated daemon signs with the kept key.
    {
        auto client = proto::Client::connect(socket().string(), 60s);
        const auto digest = digest_of("after re-activation");
        expect_valid_signature(listed[0], pb::HASH_SHA256, digest,
                               client.sign(key_id, pb::HASH_SHA256, digest).signature());
    }
    ::kill(second->pid(), SIGTERM);
    EXPECT_EQ(second->wait_exit(30s), std::optional<int>(0)) << read_file(log());
    EXPECT_TRUE(manager.file_unchanged());
}

TEST_F(SocketActivationTest, RefusesADatagramSocket) {
    auto activation = activator({"--datagram", "-l", socket().string()});
    ASSERT_TRUE(wait_for([&] { return exists(socket()); }, kStartWait)) << read_file(log());
    UniqueFd client(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const sockaddr_un addr = address_of(socket());
    ASSERT_EQ(::sendto(client.get(), "x", 1, 0, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 1);
    EXPECT_EQ(activation->wait_exit(30s), 1) << read_file(log());
    EXPECT_NE(read_file(log()).find("trustkeyd: cannot start: the socket passed by the service manager is not a "
                                    "listening Unix stream socket"),
              std::string::npos)
        << read_file(log());
}

TEST_F(SocketActivationTest, RefusesMoreThanOneSocket) {
    const fs::path other = m_home.runtime() / "trustkey" / "other.sock";
    auto activation = activator({"-l", socket().string(), "-l", other.string()});
    ASSERT_TRUE(wait_for([&] { return exists(socket()) && exists(other); }, kStartWait)) << read_file(log());
    ASSERT_TRUE(socket_accepts(socket()));
    EXPECT_EQ(activation->wait_exit(30s), 1) << read_file(log());
    EXPECT_NE(read_file(log()).find("the service manager passed 2 sockets; trustkeyd takes exactly one"),
              std::string::npos)
        << read_file(log());
}

TEST_F(SocketActivationTest, RefusesASocketWithoutAPath) {
    // An abstract socket: clients could not find it by the path rule.
    const std::string name = "trustkey-activation-" + std::to_string(::getpid());
    auto activation = activator({"-l", "@" + name});
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    UniqueFd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(wait_for([&] { return ::connect(client.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0; },
                         kStartWait))
        << read_file(log());
    EXPECT_EQ(activation->wait_exit(30s), 1) << read_file(log());
    EXPECT_NE(read_file(log()).find("the socket passed by the service manager has no path"), std::string::npos)
        << read_file(log());
}

// A datagram socket in the test standing for the service manager's $NOTIFY_SOCKET.
class NotifySocket {
public:
    explicit NotifySocket(fs::path path) : m_path(std::move(path)) {
        m_fd = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        const sockaddr_un addr = address_of(m_path);
        const int on = 1;
        if (!m_fd || ::bind(m_fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
            ::setsockopt(m_fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
            throw std::runtime_error("cannot bind " + m_path.string() + ": " + std::strerror(errno));
    }
    const fs::path& path() const noexcept { return m_path; }

    struct Message {
        std::string text;
        pid_t sender = 0;
    };
    // The next notice within `timeout`.
    std::optional<Message> receive(std::chrono::milliseconds timeout) const {
        pollfd p{m_fd.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
        char buf[4096];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
        iovec iov{buf, sizeof buf};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(m_fd.get(), &msg, 0);
        if (n < 0) return std::nullopt;
        Message m{std::string(buf, static_cast<std::size_t>(n)), 0};
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                ucred cred{};
                std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
                m.sender = cred.pid;
            }
        return m;
    }

private:
    fs::path m_path;
    UniqueFd m_fd;
};

TEST(NotifySocketTest, ReadyOnceServingAndStoppingAtStop) {
    TrustkeydHome home("trustkey-notify");
    NotifySocket notify(home / "notify");
    // No --foreground: under a service manager trustkeyd stays in the process it was started as.
    BackgroundProcess daemon({TRUSTKEYD_PATH}, {.env = [&] {
                                                    auto env = home.env();
                                                    env.push_back("NOTIFY_SOCKET=" + notify.path().string());
                                                    return env;
                                                }(),
                                                .unset = {"TRUSTKEY_SOCK"},
                                                .log_file = home / "trustkeyd.log"});

    const auto ready = notify.receive(60s);
    ASSERT_TRUE(ready) << read_file(home / "trustkeyd.log");
    EXPECT_EQ(ready->text, "READY=1\nSTATUS=serving on " + home.default_socket().string());
    EXPECT_EQ(ready->sender, daemon.pid());  // not a forked child
    EXPECT_TRUE(socket_accepts(home.default_socket()));  // serving by the time it says so
    EXPECT_TRUE(daemon.running());
    EXPECT_FALSE(notify.receive(200ms));  // nothing more while it serves

    {
        auto client = proto::Client::connect(home.default_socket().string());
        const auto key = client.generate_key("notified", pb::KEY_TYPE_ECDSA_P256);
        EXPECT_EQ(client.stop().pid(), static_cast<std::uint32_t>(daemon.pid()));
    }
    const auto stopping = notify.receive(30s);
    ASSERT_TRUE(stopping) << read_file(home / "trustkeyd.log");
    EXPECT_EQ(stopping->text, "STOPPING=1\nSTATUS=stopping");
    EXPECT_EQ(stopping->sender, daemon.pid());
    EXPECT_EQ(daemon.wait_exit(30s), 0) << read_file(home / "trustkeyd.log");
    // Started by hand (no socket from a manager), it removes the socket it made.
    EXPECT_FALSE(fs::exists(home.default_socket()));
}

TEST(NotifySocketTest, StoppingOnSigterm) {
    TrustkeydHome home("trustkey-notify");
    NotifySocket notify(home / "notify");
    TrustkeydInstance daemon(TRUSTKEYD_PATH, home, {.env = {"NOTIFY_SOCKET=" + notify.path().string()}});
    const auto ready = notify.receive(60s);
    ASSERT_TRUE(ready) << daemon.log();
    EXPECT_EQ(ready->text.rfind("READY=1\n", 0), 0u) << ready->text;
    EXPECT_EQ(daemon.stop(), 0) << daemon.log();
    const auto stopping = notify.receive(5s);
    ASSERT_TRUE(stopping) << daemon.log();
    EXPECT_EQ(stopping->text, "STOPPING=1\nSTATUS=stopping");
}

} // namespace
} // namespace trustkey::test
