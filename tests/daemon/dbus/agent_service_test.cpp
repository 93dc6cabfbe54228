// trustkeyd's D-Bus interface on a real session bus (ctest runs this program under
// dbus-run-session, so each test has a bus of its own), against the real trustkeyd on
// its embedded SoftHSM2 token: driven with busctl and gdbus, and with an sdbus-c++
// proxy generated from the same XML.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "lib/core/encoding.h"
#include "org.trustkey.Agent1.proxy.h"
#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kName = "org.trustkey.Agent";
constexpr const char* kPath = "/org/trustkey/Agent";
constexpr const char* kInterface = "org.trustkey.Agent1";

using KeyTuple = sdbus::Struct<std::string, std::string, std::string, std::string>;
// (name, kind, location, state, token label, serial, key count, error)
using BackendTuple = sdbus::Struct<std::string, std::string, std::string, std::string, std::string, std::string,
                                  std::uint32_t, std::string>;

ProcessResult busctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"busctl", "--user", "--no-pager"});
    return run_process(args, ProcessOptions{.timeout = 30s});
}

// busctl's JSON form of a call or property: {"type": ..., "data": ...}.
json busctl_json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json=short");
    const ProcessResult r = busctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
}

bool name_on_bus() { return busctl({"status", kName}).exit_code == 0; }

std::string prefix_hex(const std::vector<std::uint8_t>& digest) {
    return to_hex(std::span<const std::uint8_t>(digest.data(), 8));
}

std::string own_executable() {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The proxy: records SignatureMade and PropertiesChanged, called on the connection's own thread.
class AgentProxy final : public sdbus::ProxyInterfaces<org::trustkey::Agent1_proxy, sdbus::Properties_proxy> {
public:
    struct Signature {
        std::string key_id;
        std::uint32_t pid = 0;
        std::uint32_t uid = 0;
        std::string executable;
        std::vector<std::string> prefixes;
    };

    explicit AgentProxy(sdbus::IConnection& bus) : ProxyInterfaces(bus, kName, kPath) { registerProxy(); }
    ~AgentProxy() { unregisterProxy(); }

    // Waits (bounded) until `n` signatures were announced; returns what has been.
    std::vector<Signature> signatures(std::size_t n) {
        std::unique_lock lock(m_mutex);
        m_changed.wait_for(lock, 20s, [&] { return m_signatures.size() >= n; });
        return m_signatures;
    }
    // Waits (bounded) until `n` LockChanged signals came; returns them in order.
    std::vector<bool> lock_changes(std::size_t n) {
        std::unique_lock lock(m_mutex);
        m_changed.wait_for(lock, 20s, [&] { return m_lock_changes.size() >= n; });
        return m_lock_changes;
    }
    // Waits (bounded) for a Locked PropertiesChanged with this value.
    bool locked_changed_to(bool value) {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, 20s, [&] {
            return std::find(m_locked_values.begin(), m_locked_values.end(), value) != m_locked_values.end();
        });
    }
    // Waits (bounded) for a Keys change whose value `pred` accepts.
    template <class Pred>
    bool keys_change(Pred pred) {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, 20s, [&] {
            for (const auto& keys : m_key_changes)
                if (pred(keys)) return true;
            return false;
        });
    }

    // Waits (bounded) until `n` TokenAdded / TokenRemoved signals came; returns them in order as
    // "added|removed backend label serial".
    std::vector<std::string> token_events(std::size_t n) {
        std::unique_lock lock(m_mutex);
        m_changed.wait_for(lock, 20s, [&] { return m_token_events.size() >= n; });
        return m_token_events;
    }
    // Waits (bounded) for a Backends change in which `backend` has `state`.
    bool backend_state_changed_to(const std::string& backend, const std::string& state) {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, 20s, [&] {
            for (const auto& backends : m_backend_changes)
                for (const auto& b : backends)
                    if (std::get<0>(b) == backend && std::get<3>(b) == state) return true;
            return false;
        });
    }

private:
    void onTokenAdded(const std::string& backend, const std::string& label, const std::string& serial) override {
        std::lock_guard lock(m_mutex);
        m_token_events.push_back("added " + backend + " " + label + " " + serial);
        m_changed.notify_all();
    }
    void onTokenRemoved(const std::string& backend, const std::string& label, const std::string& serial) override {
        std::lock_guard lock(m_mutex);
        m_token_events.push_back("removed " + backend + " " + label + " " + serial);
        m_changed.notify_all();
    }
    void onSignatureMade(const std::string& key_id, const std::uint32_t& pid, const std::uint32_t& uid,
                         const std::string& executable, const std::vector<std::string>& prefixes) override {
        std::lock_guard lock(m_mutex);
        m_signatures.push_back({key_id, pid, uid, executable, prefixes});
        m_changed.notify_all();
    }
    void onLockChanged(const bool& locked) override {
        std::lock_guard lock(m_mutex);
        m_lock_changes.push_back(locked);
        m_changed.notify_all();
    }
    void onPropertiesChanged(const std::string& interface, const std::map<std::string, sdbus::Variant>& changed,
                             const std::vector<std::string>&) override {
        if (interface != kInterface) return;
        if (auto locked = changed.find("Locked"); locked != changed.end()) {
            std::lock_guard lock(m_mutex);
            m_locked_values.push_back(locked->second.get<bool>());
            m_changed.notify_all();
        }
        if (auto backends = changed.find("Backends"); backends != changed.end()) {
            std::lock_guard lock(m_mutex);
            m_backend_changes.push_back(backends->second.get<std::vector<BackendTuple>>());
            m_changed.notify_all();
        }
        auto it = changed.find("Keys");
        if (it == changed.end()) return;
        std::lock_guard lock(m_mutex);
        m_key_changes.push_back(it->second.get<std::vector<KeyTuple>>());
        m_changed.notify_all();
    }

    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<Signature> m_signatures;
    std::vector<std::vector<KeyTuple>> m_key_changes;
    std::vector<bool> m_lock_changes;
    std::vector<bool> m_locked_values;
    std::vector<std::string> m_token_events;
    std::vector<std::vector<BackendTuple>> m_backend_changes;
};

bool holds_key(const std::vector<KeyTuple>& keys, const std::string& id) {
    for (const auto& k : keys)
        if (std::get<0>(k) == id) return true;
    return false;
}

class DbusTest : public TrustkeydTest {
protected:
    void SetUp() override {
        const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
        ASSERT_TRUE(address && *address) << "run under dbus-run-session (ctest does)";
    }
    // Starts trustkeyd and waits (bounded) until its name is on the bus.
    void start_on_bus(std::vector<std::string> args = {}) {
        start(std::move(args));
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!name_on_bus() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
        ASSERT_TRUE(name_on_bus()) << "org.trustkey.Agent never appeared; trustkeyd's log:\n" << m_daemon->log();
    }
    std::unique_ptr<sdbus::IConnection> proxy_bus() {
        auto bus = sdbus::createSessionBusConnection();
        bus->enterEventLoopAsync();
        return bus;
    }
};

TEST_F(DbusTest, IntrospectionShowsTheInterface) {
    start_on_bus();
    const ProcessResult r = busctl({"introspect", kName, kPath});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* expected : {"org.trustkey.Agent1", ".ListKeys", ".Status", ".Keys", ".Backends",
                                 ".SignatureMade", "org.freedesktop.DBus.Properties"})
        EXPECT_NE(r.out.find(expected), std::string::npos) << expected << " missing in:\n" << r.out;
    EXPECT_NE(r.out.find("suusas"), std::string::npos) << r.out;          // SignatureMade
    EXPECT_NE(r.out.find("a(ssss)"), std::string::npos) << r.out;         // Keys, ListKeys
    EXPECT_NE(r.out.find("suuta(ssssssus)"), std::string::npos) << r.out; // Status

    const ProcessResult g = run_process({"gdbus", "introspect", "--session", "--dest", kName, "--object-path", kPath});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    EXPECT_NE(g.out.find("interface org.trustkey.Agent1"), std::string::npos) << g.out;
    EXPECT_NE(g.out.find("ListKeys(out a(ssss) keys)"), std::string::npos) << g.out;
    EXPECT_NE(g.out.find("readonly a(ssss) Keys"), std::string::npos) << g.out;
}

TEST_F(DbusTest, KeysAndListKeysShowAKeyGeneratedOverTheSocket) {
    start_on_bus();
    json empty = busctl_json({"get-property", kName, kPath, kInterface, "Keys"});
    EXPECT_EQ(empty["type"], "a(ssss)");
    EXPECT_TRUE(empty["data"].empty()) << empty.dump();

    auto c = client();
    const pb::KeyInfo key = c.generate_key("dbus-key", pb::KEY_TYPE_ECDSA_P256);
    const json expected = json::array({json::array({key.id(), "dbus-key", "ecdsa", key.backend()})});

    const json prop = busctl_json({"get-property", kName, kPath, kInterface, "Keys"});
    EXPECT_EQ(prop["data"], expected) << prop.dump();
    const json listed = busctl_json({"call", kName, kPath, kInterface, "ListKeys"});
    EXPECT_EQ(listed["type"], "a(ssss)");
    ASSERT_EQ(listed["data"].size(), 1u) << listed.dump();
    EXPECT_EQ(listed["data"][0], expected) << listed.dump();

    const ProcessResult g = run_process({"gdbus", "call", "--session", "--dest", kName, "--object-path", kPath,
                                         "--method", "org.trustkey.Agent1.ListKeys"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    EXPECT_NE(g.out.find("'" + key.id() + "', 'dbus-key', 'ecdsa', '" + key.backend() + "'"), std::string::npos)
        << g.out;
}

TEST_F(DbusTest, KeysOnTheTokenAtStartAreInTheProperty) {
    start({"--dbus", "none"});
    const pb::KeyInfo key = client().generate_key("kept", pb::KEY_TYPE_ED25519);
    stop_and_check();

    start_on_bus();
    const json expected = json::array({json::array({key.id(), "kept", "ed25519", key.backend()})});
    json prop;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    do {
        prop = busctl_json({"get-property", kName, kPath, kInterface, "Keys"});
        if (prop["data"] == expected) break;
        std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(prop["data"], expected) << prop.dump();
}

TEST_F(DbusTest, StatusAndBackendsDescribeTheToken) {
    start_on_bus();
    auto c = client();
    c.generate_key("counted", pb::KEY_TYPE_ECDSA_P256);
    const pb::StatusReply socket_status = c.status();
    ASSERT_EQ(socket_status.tokens_size(), 1);
    const pb::TokenStatus& token = socket_status.tokens(0);

    const json st = busctl_json({"call", kName, kPath, kInterface, "Status"});
    EXPECT_EQ(st["type"], "suuta(ssssssus)");
    const json& d = st["data"];
    ASSERT_EQ(d.size(), 5u) << st.dump();
    EXPECT_EQ(d[0], socket_status.server());
    EXPECT_EQ(d[1], 1);
    EXPECT_EQ(d[2], 1) << "the client's connection is open";
    const json backend = json::array({token.backend(), "pkcs11", token.location(), "ready", token.label(),
                                      token.serial(), 1, ""});
    EXPECT_EQ(d[4], json::array({backend})) << st.dump();

    // The property as the Status call above left it.
    const json prop = busctl_json({"get-property", kName, kPath, kInterface, "Backends"});
    EXPECT_EQ(prop["data"], json::array({backend})) << prop.dump();
}

TEST_F(DbusTest, ProxyReceivesSignatureMadeForSignaturesOverTheSocket) {
    start_on_bus();
    auto bus = proxy_bus();
    AgentProxy proxy(*bus);
    auto c = client();
    const pb::KeyInfo key = c.generate_key("signer", pb::KEY_TYPE_ECDSA_P256);

    // The proxy's calls reach the same service.
    const auto listed = proxy.ListKeys();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(std::get<0>(listed[0]), key.id());
    EXPECT_EQ(std::get<1>(listed[0]), "signer");
    EXPECT_TRUE(holds_key(proxy.Keys(), key.id()));

    // Several signs: the first on a worker, later ones possibly on the loop itself.
    std::vector<std::vector<std::uint8_t>> digests;
    for (int i = 0; i < 5; ++i) {
        digests.push_back(digest_of("release " + std::to_string(i)));
        const pb::SignReply reply = c.sign(key.id(), pb::HASH_SHA256, digests.back());
        ASSERT_EQ(reply.key_id(), key.id());
    }
    const std::vector<std::vector<std::uint8_t>> batch{digest_of("a"), digest_of("b"), digest_of("c")};
    const pb::SignBatchReply batch_reply = c.sign_batch("signer", pb::HASH_SHA256, batch);
    ASSERT_EQ(batch_reply.signatures_size(), 3);

    const auto seen = proxy.signatures(6);
    ASSERT_EQ(seen.size(), 6u);
    const std::string exe = own_executable();
    for (std::size_t i = 0; i < seen.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(seen[i].key_id, key.id());
        EXPECT_EQ(seen[i].pid, static_cast<std::uint32_t>(::getpid()));
        EXPECT_EQ(seen[i].uid, static_cast<std::uint32_t>(::getuid()));
        EXPECT_EQ(seen[i].executable, exe);
    }
    for (std::size_t i = 0; i < 5; ++i)
        EXPECT_EQ(seen[i].prefixes, std::vector<std::string>{prefix_hex(digests[i])}) << i;
    EXPECT_EQ(seen[5].prefixes,
              (std::vector<std::string>{prefix_hex(batch[0]), prefix_hex(batch[1]), prefix_hex(batch[2])}));

    // A refused sign is no signature.
    EXPECT_THROW(c.sign("no-such-key", pb::HASH_SHA256, digest_of("x")), proto::ClientError);
    c.sign(key.id(), pb::HASH_SHA256, digest_of("last"));
    const auto after = proxy.signatures(7);
    ASSERT_EQ(after.size(), 7u);
    EXPECT_EQ(after[6].prefixes, std::vector<std::string>{prefix_hex(digest_of("last"))});
}

TEST_F(DbusTest, PropertiesChangedWhenKeysAreGeneratedImportedAndDeleted) {
    start_on_bus();
    auto bus = proxy_bus();
    AgentProxy proxy(*bus);
    auto c = client();

    const pb::KeyInfo made = c.generate_key("fresh", pb::KEY_TYPE_ECDSA_P256);
    EXPECT_TRUE(proxy.keys_change([&](const std::vector<KeyTuple>& keys) {
        return keys.size() == 1 && std::get<0>(keys[0]) == made.id() && std::get<1>(keys[0]) == "fresh" &&
               std::get<2>(keys[0]) == "ecdsa" && std::get<3>(keys[0]) == made.backend();
    })) << m_daemon->log();

    const pb::KeyInfo ed = c.generate_key("second", pb::KEY_TYPE_ED25519);
    EXPECT_TRUE(proxy.keys_change([&](const std::vector<KeyTuple>& keys) {
        return keys.size() == 2 && holds_key(keys, made.id()) && holds_key(keys, ed.id());
    }));

    const ProcessResult pem =
        run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"});
    ASSERT_EQ(pem.exit_code, 0) << pem.err;
    const pb::KeyInfo imported = c.import_key("imported", pem.out);
    EXPECT_TRUE(proxy.keys_change([&](const std::vector<KeyTuple>& keys) {
        return keys.size() == 3 && holds_key(keys, imported.id());
    }));

    c.delete_key(made.id());
    c.delete_key(imported.id());
    EXPECT_TRUE(proxy.keys_change([&](const std::vector<KeyTuple>& keys) {
        return keys.size() == 1 && std::get<0>(keys[0]) == ed.id() && std::get<2>(keys[0]) == "ed25519";
    }));
    // And the property reads the same.
    const auto now = proxy.Keys();
    ASSERT_EQ(now.size(), 1u);
    EXPECT_EQ(std::get<0>(now[0]), ed.id());
}

TEST_F(DbusTest, TokenRemovedThenTokenAddedWhenATokenIsPulledAndPutBack) {
    // A real SoftHSM2 token behind the unplug module (tests/support/unplug_pkcs11), pulled
    // while the control file exists.
    SoftHsmToken token{"alpha", "1234"};
    const std::filesystem::path pulled = m_home / "pulled";
    const std::string cfg = "token_poll_seconds = 1\n[[pkcs11]]\nname = \"yubi\"\nmodule = \"" +
                            std::string(UNPLUG_PKCS11_PATH) +
                            "\"\ntoken = \"pkcs11:token=alpha\"\npin_env = \"ALPHA_PIN\"\n";
    auto o = options({"--config", write_config(cfg)});
    o.env = {"ALPHA_PIN=1234", "TRUSTKEY_TEST_UNPLUG_FILE=" + pulled.string(), "TRUSTKEY_TEST_UNPLUG_TOKEN=alpha"};
    start(std::move(o));
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!name_on_bus() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(name_on_bus()) << m_daemon->log();
    auto bus = proxy_bus();
    AgentProxy proxy(*bus);
    const std::string serial = client().status().tokens(0).serial();
    ASSERT_FALSE(serial.empty());

    std::ofstream(pulled) << "out\n";
    auto events = proxy.token_events(1);
    ASSERT_EQ(events.size(), 1u) << m_daemon->log();
    EXPECT_EQ(events[0], "removed yubi alpha " + serial);
    EXPECT_TRUE(proxy.backend_state_changed_to("yubi", "absent")) << m_daemon->log();

    std::filesystem::remove(pulled);
    events = proxy.token_events(2);
    ASSERT_EQ(events.size(), 2u) << m_daemon->log();
    EXPECT_EQ(events[1], "added yubi alpha " + serial);
    EXPECT_TRUE(proxy.backend_state_changed_to("yubi", "ready")) << m_daemon->log();
    const auto backends = proxy.Backends();
    ASSERT_EQ(backends.size(), 1u);
    EXPECT_EQ(std::get<3>(backends[0]), "ready");
}

TEST_F(DbusTest, TheBusAddsNoThread) {
    start_on_bus();
    const std::uint32_t with_bus = client().status().threads();
    // Busy on the bus meanwhile: calls, a property read, a signature announced.
    auto c = client();
    const pb::KeyInfo key = c.generate_key("t", pb::KEY_TYPE_ECDSA_P256);
    c.sign(key.id(), pb::HASH_SHA256, digest_of("t"));
    EXPECT_EQ(busctl({"call", kName, kPath, kInterface, "Status"}).exit_code, 0);
    EXPECT_EQ(busctl({"get-property", kName, kPath, kInterface, "Keys"}).exit_code, 0);
    EXPECT_EQ(c.status().threads(), with_bus);
    stop_and_check();

    start({"--dbus", "none"});
    EXPECT_EQ(client().status().threads(), with_bus) << "threads with the bus: " << with_bus;
}

TEST_F(DbusTest, NoneLeavesTheBusAlone) {
    start({"--dbus", "none"});
    expect_serves();
    EXPECT_FALSE(name_on_bus());
    EXPECT_EQ(m_daemon->log().find("dbus"), std::string::npos) << m_daemon->log();
}

TEST_F(DbusTest, ConfigurationNoneLeavesTheBusAlone) {
    auto opts = options();
    opts.config_toml = "dbus = \"none\"\n";
    start(opts);
    expect_serves();
    EXPECT_FALSE(name_on_bus());
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
}

TEST_F(DbusTest, WithoutABusTrustkeydServesAndSaysSoOnce) {
    auto opts = options({"--dbus", "session"});
    opts.unset = {"DBUS_SESSION_BUS_ADDRESS"};
    start(opts);
    expect_serves();
    const std::string log = m_daemon->log();
    EXPECT_EQ(count_of(log, "dbus"), 1u) << log;
    EXPECT_EQ(count_of(log, "event=dbus_unavailable bus=session"), 1u) << log;
}

TEST_F(DbusTest, AnUnreachableBusAddressIsOneLogLine) {
    auto opts = options();  // the default: session, since the variable is set
    opts.env = {"DBUS_SESSION_BUS_ADDRESS=unix:path=" + (m_home / "no-bus").string()};
    start(opts);
    expect_serves();
    const std::string log = m_daemon->log();
    EXPECT_EQ(count_of(log, "event=dbus_unavailable bus=session"), 1u) << log;
    EXPECT_FALSE(name_on_bus());
}

TEST_F(DbusTest, AnUnsetAddressMeansNoBusByDefault) {
    auto opts = options();
    opts.unset = {"DBUS_SESSION_BUS_ADDRESS"};
    start(opts);
    expect_serves();
    EXPECT_EQ(m_daemon->log().find("dbus"), std::string::npos) << m_daemon->log();
}

TEST_F(DbusTest, ABusThatGoesAwayIsOneLogLineAndTheSocketServesOn) {
    // A bus of this test's own, to end while trustkeyd runs.
    const std::string address = "unix:path=" + (m_home / "own-bus").string();
    BackgroundProcess bus({"dbus-daemon", "--session", "--nofork", "--nopidfile", "--address=" + address},
                          BackgroundOptions{.log_file = m_home / "dbus-daemon.log"});
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!std::filesystem::exists(m_home / "own-bus") && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    auto opts = options();
    opts.env = {"DBUS_SESSION_BUS_ADDRESS=" + address};
    start(opts);
    const auto ready_by = std::chrono::steady_clock::now() + 20s;
    while (m_daemon->log().find("event=dbus_ready") == std::string::npos && std::chrono::steady_clock::now() < ready_by)
        std::this_thread::sleep_for(20ms);
    ASSERT_NE(m_daemon->log().find("event=dbus_ready"), std::string::npos) << m_daemon->log();

    EXPECT_EQ(bus.stop(), 0);
    // Signatures and a new key right away: what they announce may find the bus gone first.
    expect_serves();
    const auto lost_by = std::chrono::steady_clock::now() + 20s;
    while (m_daemon->log().find("event=dbus_lost") == std::string::npos && std::chrono::steady_clock::now() < lost_by)
        std::this_thread::sleep_for(20ms);
    expect_serves();
    client().generate_key("after", pb::KEY_TYPE_ECDSA_P256);
    const std::string log = m_daemon->log();
    EXPECT_EQ(count_of(log, "event=dbus_lost"), 1u) << log;
}

TEST_F(DbusTest, ABadModeIsRefused) {
    auto opts = options({"--dbus", "system"});
    m_daemon = launch(opts);
    EXPECT_EQ(m_daemon->wait_exit(), 1);
    EXPECT_NE(m_daemon->log().find("--dbus must be session or none"), std::string::npos) << m_daemon->log();
}

TEST_F(DbusTest, LockAndUnlockThroughTheBusTheUnlockAskingThePinThroughPinentry) {
    SoftHsmToken token("dbus-lock", "7531");
    const auto pin_file = m_home / "pin";
    std::ofstream(pin_file) << token.user_pin();
    const auto typed = m_home / "typed";
    const std::string cfg = write_config(std::string("pinentry = \"") + FAKE_PINENTRY_PATH + "\"\n[[pkcs11]]\n" +
                                         "name = \"hsm\"\nmodule = \"" + SoftHsmToken::module() + "\"\ntoken = \"" +
                                         token.uri() + "\"\npin_file = \"" + pin_file.string() + "\"\n");
    auto o = options({"--config", cfg});
    o.env = {"FAKE_PINENTRY_PIN_FILE=" + typed.string(), "FAKE_PINENTRY_LOG=" + (m_home / "asked").string()};
    start(std::move(o));
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!name_on_bus() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(name_on_bus()) << m_daemon->log();

    auto bus = proxy_bus();
    AgentProxy proxy(*bus);
    auto c = client();
    const pb::KeyInfo key = c.generate_key("guarded", pb::KEY_TYPE_ECDSA_P256);
    EXPECT_FALSE(proxy.Locked());

    // Locked over the bus: the socket refuses the key; the signal and the property say so.
    ASSERT_EQ(busctl({"call", kName, kPath, kInterface, "Lock"}).exit_code, 0);
    EXPECT_EQ(busctl_json({"get-property", kName, kPath, kInterface, "Locked"})["data"], true);
    ASSERT_EQ(proxy.lock_changes(1), std::vector<bool>{true});
    EXPECT_TRUE(proxy.locked_changed_to(true));
    try {
        c.sign(key.id(), pb::HASH_SHA256, digest_of("locked"));
        ADD_FAILURE() << "a locked agent signed";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_LOCKED) << e.what();
    }

    // Unlock: the PIN is asked through pinentry; a wrong one fails the call and the lock stays.
    std::ofstream(typed) << "0000\n";
    const ProcessResult wrong = busctl({"call", kName, kPath, kInterface, "Unlock"});
    EXPECT_NE(wrong.exit_code, 0);
    EXPECT_NE(wrong.err.find("PIN"), std::string::npos) << wrong.err;
    EXPECT_TRUE(proxy.Locked());
    std::ofstream(typed, std::ios::trunc) << token.user_pin() << "\n";
    ASSERT_EQ(busctl({"call", kName, kPath, kInterface, "Unlock"}).exit_code, 0);
    EXPECT_FALSE(proxy.Locked());
    EXPECT_EQ(proxy.lock_changes(2), (std::vector<bool>{true, false}));
    std::ifstream asked_in(m_home / "asked");
    const std::string asked((std::istreambuf_iterator<char>(asked_in)), std::istreambuf_iterator<char>());
    EXPECT_NE(asked.find("unlock trustkeyd"), std::string::npos) << asked;
    const auto digest = digest_of("unlocked");
    expect_valid_signature(key, pb::HASH_SHA256, digest, c.sign(key.id(), pb::HASH_SHA256, digest).signature());

    // `trustkey lock` over the socket is announced on the bus too.
    c.lock();
    EXPECT_EQ(proxy.lock_changes(3), (std::vector<bool>{true, false, true}));
}

} // namespace
} // namespace trustkey::test
