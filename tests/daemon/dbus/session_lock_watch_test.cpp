// trustkeyd following logind's Lock: a real dbus-daemon of the test's own plays the system bus
// (DBUS_SYSTEM_BUS_ADDRESS for trustkeyd), logind_standin plays logind on it with a session of
// this user and one of another uid, and the real trustkeyd runs on its embedded SoftHSM2 token.
// ctest runs this program under dbus-run-session, so trustkeyd also serves its interface on a
// session bus, where LockChanged is watched.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/process.h"

namespace trustkey::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLogind = "org.freedesktop.login1";
constexpr const char* kImpostor = "org.trustkey.test.Impostor";
constexpr const char* kControl = "org.trustkey.test.LogindStandin";

std::string read_all(const std::filesystem::path& file) {
    std::ifstream in(file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
}

// Waits (bounded) until `get()` holds `what` at least `n` times.
template <class Get>
bool wait_for_text(Get get, const std::string& what, std::size_t n = 1) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (count_of(get(), what) < n) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

// LockChanged from trustkeyd's interface on the session bus, through a plain sdbus-c++ proxy.
class LockChangedWatch {
public:
    LockChangedWatch() : m_bus(sdbus::createSessionBusConnection()) {
        m_proxy = sdbus::createProxy(*m_bus, "org.trustkey.Agent", "/org/trustkey/Agent");
        m_proxy->uponSignal("LockChanged").onInterface("org.trustkey.Agent1").call([this](bool locked) {
            std::lock_guard lock(m_mutex);
            m_changes.push_back(locked);
            m_changed.notify_all();
        });
        m_proxy->finishRegistration();
        m_bus->enterEventLoopAsync();
    }
    ~LockChangedWatch() {
        m_bus->leaveEventLoop();
        m_proxy.reset();
    }
    // Waits (bounded) until `n` LockChanged signals came; returns them in order.
    std::vector<bool> changes(std::size_t n) {
        std::unique_lock lock(m_mutex);
        m_changed.wait_for(lock, 20s, [&] { return m_changes.size() >= n; });
        return m_changes;
    }

private:
    std::unique_ptr<sdbus::IConnection> m_bus;
    std::unique_ptr<sdbus::IProxy> m_proxy;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<bool> m_changes;
};

class SessionLockTest : public TrustkeydTest {
protected:
    void SetUp() override {
        const char* session = std::getenv("DBUS_SESSION_BUS_ADDRESS");
        ASSERT_TRUE(session && *session) << "run under dbus-run-session (ctest does)";
        m_our_uid = std::to_string(::getuid());
        m_other_uid = std::to_string(::getuid() + 1000);
    }
    void TearDown() override {
        TrustkeydTest::TearDown();
        m_impostor.reset();
        m_logind.reset();
        m_system_bus.reset();
    }

    // A dbus-daemon of the test's own as the system bus (any connection of this user may do anything).
    void start_system_bus() {
        const auto socket = m_home / "system-bus";
        m_system_address = "unix:path=" + socket.string();
        m_system_bus = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{"dbus-daemon", "--session", "--nofork", "--nopidfile",
                                     "--address=" + m_system_address},
            BackgroundOptions{.log_file = m_home / "system-bus.log"});
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!std::filesystem::exists(socket) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(10ms);
        ASSERT_TRUE(std::filesystem::exists(socket)) << read_all(m_home / "system-bus.log");
    }
    // The stand-in under `name`, with a session "mine" of this user and "theirs" of another uid.
    std::unique_ptr<BackgroundProcess> start_standin(const std::string& name) {
        const auto log = m_home / (name + ".log");
        auto p = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{LOGIND_STANDIN_PATH, "--name", name, "--session", "mine:" + m_our_uid,
                                     "--session", "theirs:" + m_other_uid},
            BackgroundOptions{.env = {"DBUS_SYSTEM_BUS_ADDRESS=" + m_system_address}, .log_file = log});
        EXPECT_TRUE(wait_for_text([&] { return read_all(log); }, "ready")) << read_all(log);
        return p;
    }
    void start_logind() {
        start_system_bus();
        m_logind = start_standin(kLogind);
    }
    // trustkeyd with the test's system bus, waited for until it watches logind.
    void start_watching(const std::string& toml = "") {
        auto opts = options();
        opts.env = {"DBUS_SYSTEM_BUS_ADDRESS=" + m_system_address};
        if (!toml.empty()) opts.config_toml = toml;
        // A daemon started again appends to the same log.
        const std::size_t before = m_daemon ? count_of(m_daemon->log(), "event=session_lock_watch ") : 0;
        start(opts);
        ASSERT_TRUE(wait_for_log("event=session_lock_watch ", before + 1)) << m_daemon->log();
    }
    bool wait_for_log(const std::string& what, std::size_t n = 1) {
        return wait_for_text([&] { return m_daemon->log(); }, what, n);
    }
    // Calls the stand-in `name`'s control method with busctl's signature and arguments.
    void control(const std::string& name, std::vector<std::string> call) {
        std::vector<std::string> argv{"busctl", "--address=" + m_system_address, "--no-pager", "call", name,
                                      "/org/freedesktop/login1", kControl};
        argv.insert(argv.end(), call.begin(), call.end());
        const ProcessResult r = run_process(argv, ProcessOptions{.timeout = 20s});
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    // A Lock of the other user's session, and its handling seen in the log: trustkeyd has
    // handled every signal sent before it, as the bus keeps their order.
    void barrier() {
        const std::size_t before = count_of(m_daemon->log(), "reason=other_user");
        control(kLogind, {"EmitLock", "sb", "theirs", "false"});
        ASSERT_TRUE(wait_for_log("reason=other_user", before + 1)) << m_daemon->log();
    }
    bool locked() { return client().status().locked(); }
    // Waits (bounded) for the daemon to be locked.
    bool wait_locked() {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!locked()) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(20ms);
        }
        return true;
    }
    pb::Status sign_status(const pb::KeyInfo& key) {
        try {
            client().sign(key.id(), pb::HASH_SHA256, digest_of("session lock"));
        } catch (const proto::ClientError& e) {
            return e.status();
        }
        return pb::STATUS_OK;
    }

    std::string m_our_uid;
    std::string m_other_uid;
    std::string m_system_address;
    std::unique_ptr<BackgroundProcess> m_system_bus;
    std::unique_ptr<BackgroundProcess> m_logind;
    std::unique_ptr<BackgroundProcess> m_impostor;
};

TEST_F(SessionLockTest, ALockOfOurSessionLocksTrustkeydAndAnUnlockLeavesItLocked) {
    start_logind();
    start_watching();
    ASSERT_TRUE(wait_for_log("event=dbus_ready")) << m_daemon->log();
    LockChangedWatch watch;
    const pb::KeyInfo key = client().generate_key("desk", pb::KEY_TYPE_ECDSA_P256);
    ASSERT_EQ(sign_status(key), pb::STATUS_OK);

    control(kLogind, {"EmitLock", "sb", "mine", "false"});
    EXPECT_EQ(watch.changes(1), std::vector<bool>{true});
    EXPECT_TRUE(locked());
    EXPECT_EQ(sign_status(key), pb::STATUS_LOCKED);
    EXPECT_EQ(count_of(m_daemon->log(), "event=session_lock session=\"/org/freedesktop/login1/session/mine\""), 1u)
        << m_daemon->log();

    // logind's Unlock does not unlock: the user does.
    control(kLogind, {"EmitUnlock", "s", "mine"});
    barrier();
    EXPECT_TRUE(locked());
    EXPECT_EQ(sign_status(key), pb::STATUS_LOCKED);
    EXPECT_EQ(watch.changes(1), std::vector<bool>{true});
}

TEST_F(SessionLockTest, ALockOfAnotherUsersSessionDoesNotLock) {
    start_logind();
    start_watching();
    const pb::KeyInfo key = client().generate_key("desk", pb::KEY_TYPE_ECDSA_P256);
    barrier();  // "theirs" locked
    EXPECT_NE(m_daemon->log().find("uid=" + m_other_uid), std::string::npos) << m_daemon->log();
    EXPECT_FALSE(locked());
    EXPECT_EQ(sign_status(key), pb::STATUS_OK);
    EXPECT_EQ(m_daemon->log().find("event=session_lock session="), std::string::npos) << m_daemon->log();
}

TEST_F(SessionLockTest, ALockFromAConnectionThatIsNotLogindDoesNotLock) {
    start_logind();
    m_impostor = start_standin(kImpostor);
    start_watching();
    const pb::KeyInfo key = client().generate_key("desk", pb::KEY_TYPE_ECDSA_P256);

    // Broadcast (which the bus keeps from trustkeyd: its rule names logind's name), and sent to
    // each connection by name, which reaches trustkeyd whatever its rules.
    control(kImpostor, {"EmitLock", "sb", "mine", "true"});
    ASSERT_TRUE(wait_for_log("reason=not_logind")) << m_daemon->log();
    barrier();
    EXPECT_FALSE(locked());
    EXPECT_EQ(sign_status(key), pb::STATUS_OK);
    EXPECT_EQ(m_daemon->log().find("event=session_lock session="), std::string::npos) << m_daemon->log();

    // The same session's Lock from logind itself does.
    control(kLogind, {"EmitLock", "sb", "mine", "false"});
    EXPECT_TRUE(wait_locked()) << m_daemon->log();
    EXPECT_EQ(sign_status(key), pb::STATUS_LOCKED);
}

TEST_F(SessionLockTest, PrepareForSleepLocksUnlessTurnedOff) {
    start_logind();
    start_watching();
    const pb::KeyInfo key = client().generate_key("desk", pb::KEY_TYPE_ECDSA_P256);
    control(kLogind, {"EmitPrepareForSleep", "b", "false"});  // waking up: nothing
    barrier();
    EXPECT_FALSE(locked());
    control(kLogind, {"EmitPrepareForSleep", "b", "true"});
    EXPECT_TRUE(wait_locked()) << m_daemon->log();
    EXPECT_EQ(sign_status(key), pb::STATUS_LOCKED);
    EXPECT_EQ(count_of(m_daemon->log(), "event=sleep_lock"), 1u) << m_daemon->log();

    // lock_before_sleep = false: the session's Lock still locks, sleeping does not.
    m_daemon->stop();
    start_watching("lock_before_sleep = false\n");
    EXPECT_NE(m_daemon->log().find("lock_before_sleep=false"), std::string::npos) << m_daemon->log();
    EXPECT_FALSE(locked());
    control(kLogind, {"EmitPrepareForSleep", "b", "true"});
    barrier();
    EXPECT_FALSE(locked());
    EXPECT_EQ(sign_status(key), pb::STATUS_OK);
    control(kLogind, {"EmitLock", "sb", "mine", "false"});
    EXPECT_TRUE(wait_locked()) << m_daemon->log();
}

TEST_F(SessionLockTest, LockOnSessionLockFalseIgnoresTheSessionsLock) {
    start_logind();
    start_watching("lock_on_session_lock = false\n");
    const pb::KeyInfo key = client().generate_key("desk", pb::KEY_TYPE_ECDSA_P256);
    control(kLogind, {"EmitLock", "sb", "mine", "false"});
    // Sleeping still locks; by then the Lock sent before it has been seen.
    control(kLogind, {"EmitPrepareForSleep", "b", "true"});
    ASSERT_TRUE(wait_for_log("event=sleep_lock")) << m_daemon->log();
    EXPECT_EQ(m_daemon->log().find("event=session_lock session="), std::string::npos) << m_daemon->log();
    EXPECT_TRUE(wait_locked());

    // Both off: not even a connection to the system bus.
    m_daemon->stop();
    auto opts = options();
    opts.env = {"DBUS_SYSTEM_BUS_ADDRESS=" + m_system_address};
    opts.config_toml = "lock_on_session_lock = false\nlock_before_sleep = false\n";
    const std::size_t lines_before = count_of(m_daemon->log(), "session_lock_watch");
    start(opts);
    expect_serves();
    EXPECT_EQ(count_of(m_daemon->log(), "session_lock_watch"), lines_before) << m_daemon->log();
}

TEST_F(SessionLockTest, TheSystemBusGoingAwayIsOneLogLineAndTrustkeydServesOn) {
    start_logind();
    start_watching();
    m_logind.reset();
    EXPECT_EQ(m_system_bus->stop(), 0);
    ASSERT_TRUE(wait_for_log("no longer following logind")) << m_daemon->log();
    expect_serves();
    EXPECT_FALSE(locked());
    // The session bus is still served.
    const ProcessResult r = run_process({"busctl", "--user", "--no-pager", "status", "org.trustkey.Agent"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(count_of(m_daemon->log(), "event=dbus_lost"), 1u) << m_daemon->log();
}

TEST_F(SessionLockTest, WithoutASystemBusTrustkeydServesAndSaysSoOnce) {
    auto opts = options();
    opts.env = {"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + (m_home / "no-bus").string()};
    start(opts);
    expect_serves();
    const std::string log = m_daemon->log();
    EXPECT_EQ(count_of(log, "session_lock"), 1u) << log;
    EXPECT_EQ(count_of(log, "event=session_lock_watch_off reason=no_system_bus"), 1u) << log;
}

TEST_F(SessionLockTest, WithoutLogindOnTheSystemBusTrustkeydServesAndSaysSoOnce) {
    start_system_bus();
    auto opts = options();
    opts.env = {"DBUS_SYSTEM_BUS_ADDRESS=" + m_system_address};
    start(opts);
    expect_serves();
    const std::string log = m_daemon->log();
    EXPECT_EQ(count_of(log, "session_lock"), 1u) << log;
    EXPECT_EQ(count_of(log, "event=session_lock_watch_off reason=no_logind"), 1u) << log;
}

} // namespace
} // namespace trustkey::test
