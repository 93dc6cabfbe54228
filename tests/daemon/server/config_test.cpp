// Config parsing and socket path resolution.
#include <gtest/gtest.h>

#include <cstdlib>

#include "daemon/config/config.h"
#include "trustkey/proto/client.h"
#include "lib/core/error.h"

namespace trustkey::config {
namespace {

Errc errc_of(const std::string& text, std::string* message = nullptr) {
    try {
        Config::parse(text, "/etc/test.toml");
    } catch (const Error& e) {
        if (message) *message = e.what();
        return e.errc();
    }
    return Errc::internal;
}

TEST(ConfigTest, FullFile) {
    const auto c = Config::parse(R"(
socket = "/run/x/agent.sock"
log_level = "debug"
log_file = "/var/log/trustkeyd.log"
max_connections = 8
allow_root = false
idle_timeout_seconds = 0
max_queued_requests = 16
batch_chunk = 32
general_workers = 3
[[pkcs11]]
name = "yubi"
module = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
token = "pkcs11:token=PIV"
pin_env = "YUBI_PIN"
sessions = 3
[[pkcs11]]
name = "soft"
module = "/usr/lib/softhsm/libsofthsm2.so"
pin_file = "/etc/pin"
)",
                                 "/etc/test.toml");
    EXPECT_EQ(c.socket->string(), "/run/x/agent.sock");
    EXPECT_EQ(*c.log_level, "debug");
    ASSERT_TRUE(c.log_file);
    EXPECT_EQ(c.log_file->string(), "/var/log/trustkeyd.log");
    EXPECT_EQ(c.max_connections, 8u);
    EXPECT_FALSE(c.allow_root);
    EXPECT_EQ(c.idle_timeout_seconds, 0u);
    EXPECT_EQ(c.max_queued_requests, 16u);
    EXPECT_EQ(c.batch_chunk, 32u);
    EXPECT_EQ(c.general_workers, 3u);
    ASSERT_EQ(c.pkcs11.size(), 2u);
    EXPECT_EQ(c.pkcs11[0].pin.kind, backend::pkcs11::PinSource::Kind::env);
    EXPECT_EQ(c.pkcs11[0].pin.ref, "YUBI_PIN");
    EXPECT_EQ(c.pkcs11[0].sessions, 3u);
    EXPECT_EQ(c.pkcs11[1].pin.kind, backend::pkcs11::PinSource::Kind::file);
}

TEST(ConfigTest, Defaults) {
    const auto c = Config::parse("", "/etc/test.toml");
    EXPECT_FALSE(c.socket);
    EXPECT_EQ(c.max_connections, kDefaultMaxConnections);
    EXPECT_TRUE(c.allow_root);
    EXPECT_EQ(c.idle_timeout_seconds, kDefaultIdleTimeoutSeconds);
    EXPECT_EQ(c.max_queued_requests, kDefaultMaxQueuedRequests);
    EXPECT_EQ(c.batch_chunk, 8u);
    EXPECT_EQ(c.general_workers, 2u);
    EXPECT_TRUE(c.pkcs11.empty());
    EXPECT_EQ(c.pinentry, "pinentry");
    EXPECT_EQ(c.pin_cache_seconds, 600u);
    EXPECT_EQ(c.pinentry_timeout_seconds, 120u);
}

TEST(ConfigTest, PinentrySettings) {
    const auto c = Config::parse("pinentry = \"/usr/bin/pinentry-tty\"\npin_cache_seconds = 0\n"
                                 "pinentry_timeout_seconds = 30\n",
                                 "/etc/test.toml");
    EXPECT_EQ(c.pinentry, "/usr/bin/pinentry-tty");
    EXPECT_EQ(c.pin_cache_seconds, 0u);
    EXPECT_EQ(c.pinentry_timeout_seconds, 30u);
    EXPECT_EQ(Config::parse("pinentry = \"none\"\n", "/etc/test.toml").pinentry, "none");
    std::string msg;
    EXPECT_EQ(errc_of("pinentry = \"\"\n", &msg), Errc::config);
    EXPECT_NE(msg.find("\"pinentry\" must not be empty"), std::string::npos) << msg;
    EXPECT_EQ(errc_of("pin_cache_seconds = -1\n", &msg), Errc::config);
    EXPECT_EQ(errc_of("pinentry_timeout_seconds = 0\n", &msg), Errc::config);
    EXPECT_NE(msg.find("between 1 and 3600"), std::string::npos) << msg;
}

TEST(ConfigTest, SessionLockSettings) {
    const auto defaults = Config::parse("", "/etc/test.toml");
    EXPECT_TRUE(defaults.lock_on_session_lock);
    EXPECT_TRUE(defaults.lock_before_sleep);
    const auto off = Config::parse("lock_on_session_lock = false\nlock_before_sleep = false\n", "/etc/test.toml");
    EXPECT_FALSE(off.lock_on_session_lock);
    EXPECT_FALSE(off.lock_before_sleep);
    std::string msg;
    EXPECT_EQ(errc_of("lock_on_session_lock = \"yes\"\n", &msg), Errc::config);
    EXPECT_NE(msg.find("lock_on_session_lock"), std::string::npos) << msg;
    EXPECT_EQ(errc_of("lock_before_sleep = 1\n"), Errc::config);
}

TEST(ConfigTest, TokenPollSeconds) {
    EXPECT_EQ(Config::parse("", "/etc/test.toml").token_poll_seconds, 2u);
    EXPECT_EQ(Config::parse("token_poll_seconds = 0\n", "/etc/test.toml").token_poll_seconds, 0u);
    EXPECT_EQ(Config::parse("token_poll_seconds = 30\n", "/etc/test.toml").token_poll_seconds, 30u);
    std::string msg;
    EXPECT_EQ(errc_of("token_poll_seconds = -1\n", &msg), Errc::config);
    EXPECT_NE(msg.find("token_poll_seconds"), std::string::npos) << msg;
    EXPECT_EQ(errc_of("token_poll_seconds = \"2\"\n", &msg), Errc::config);
}

TEST(ConfigTest, UnknownKeysNamedWithTheFile) {
    std::string msg;
    EXPECT_EQ(errc_of("sockett = \"/x\"\n", &msg), Errc::config);
    EXPECT_NE(msg.find("\"sockett\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("/etc/test.toml"), std::string::npos) << msg;
    EXPECT_EQ(errc_of("[[pkcs11]]\nname=\"a\"\nmodule=\"/m\"\nslot=1\n", &msg), Errc::config);
    EXPECT_NE(msg.find("\"slot\""), std::string::npos) << msg;
}

TEST(ConfigTest, InvalidValuesRefused) {
    EXPECT_EQ(errc_of("max_connections = 0\n"), Errc::config);
    EXPECT_EQ(errc_of("max_queued_requests = 0\n"), Errc::config);
    EXPECT_EQ(errc_of("batch_chunk = 0\n"), Errc::config);
    EXPECT_EQ(errc_of("batch_chunk = 961\n"), Errc::config);
    EXPECT_EQ(errc_of("general_workers = 0\n"), Errc::config);
    EXPECT_EQ(errc_of("idle_timeout_seconds = -1\n"), Errc::config);
    EXPECT_EQ(errc_of("max_connections = \"many\"\n"), Errc::config);
    EXPECT_EQ(errc_of("allow_root = 1\n"), Errc::config);
    EXPECT_EQ(errc_of("log_level = \"loud\"\n"), Errc::config);
    EXPECT_EQ(errc_of("log_file = \"\"\n"), Errc::config);
    EXPECT_EQ(errc_of("socket = \n"), Errc::config);  // syntax error
    EXPECT_EQ(errc_of("[[pkcs11]]\nname=\"a\"\nmodule=\"/m\"\npin_env=\"P\"\npin_file=\"/f\"\n"), Errc::config);
    EXPECT_EQ(errc_of("[[pkcs11]]\nmodule=\"/m\"\n"), Errc::config);
    EXPECT_EQ(errc_of("[[pkcs11]]\nname=\"a\"\nmodule=\"/m\"\ntoken=\"token=x\"\n"), Errc::config);
    EXPECT_EQ(errc_of("[[pkcs11]]\nname=\"a\"\nmodule=\"/m\"\n[[pkcs11]]\nname=\"a\"\nmodule=\"/n\"\n"),
              Errc::config);
    EXPECT_EQ(errc_of("pkcs11 = 3\n"), Errc::config);
}

TEST(ConfigTest, DbusModeFromFileFlagAndEnvironment) {
    EXPECT_EQ(Config::parse("dbus = \"session\"\n", "/t.toml").dbus, DbusMode::session);
    EXPECT_EQ(Config::parse("dbus = \"none\"\n", "/t.toml").dbus, DbusMode::none);
    std::string message;
    EXPECT_EQ(errc_of("dbus = \"system\"\n", &message), Errc::config);
    EXPECT_NE(message.find("\"session\" or \"none\""), std::string::npos) << message;
    EXPECT_EQ(errc_of("dbus = true\n"), Errc::config);

    Config c;
    ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
    EXPECT_EQ(resolve_dbus_mode(std::nullopt, c), DbusMode::none);
    ::setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus", 1);
    EXPECT_EQ(resolve_dbus_mode(std::nullopt, c), DbusMode::session);
    c.dbus = DbusMode::none;
    EXPECT_EQ(resolve_dbus_mode(std::nullopt, c), DbusMode::none);
    EXPECT_EQ(resolve_dbus_mode(std::string("session"), c), DbusMode::session);
    ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
    c.dbus = DbusMode::session;
    EXPECT_EQ(resolve_dbus_mode(std::nullopt, c), DbusMode::session);
    EXPECT_EQ(resolve_dbus_mode(std::string("none"), c), DbusMode::none);
    EXPECT_THROW(resolve_dbus_mode(std::string("system"), c), Error);
}

TEST(ConfigTest, SocketPathPrecedence) {
    Config c;
    ::setenv("TRUSTKEY_SOCK", "/env/sock", 1);
    ::setenv("XDG_RUNTIME_DIR", "/xdg", 1);
    EXPECT_EQ(resolve_socket_path(std::filesystem::path("/cli"), c), "/cli");
    EXPECT_EQ(resolve_socket_path(std::nullopt, c), "/env/sock");
    c.socket = "/cfg";
    EXPECT_EQ(resolve_socket_path(std::nullopt, c), "/cfg");
    c.socket.reset();
    ::unsetenv("TRUSTKEY_SOCK");
    EXPECT_EQ(resolve_socket_path(std::nullopt, c), "/xdg/trustkey/agent.sock");
    ::unsetenv("XDG_RUNTIME_DIR");
    // Without a runtime directory: the client library's rule, so daemon and clients agree.
    EXPECT_EQ(resolve_socket_path(std::nullopt, c), proto::Client::default_socket_path());
    EXPECT_EQ(resolve_socket_path(std::nullopt, c).filename(), "agent.sock");
}

TEST(ConfigTest, MissingFileIsAConfigError) {
    try {
        Config::load("/nonexistent/trustkeyd.toml");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::config);
    }
}

} // namespace
} // namespace trustkey::config

namespace trustkey::config {
namespace {

Errc tpm_errc_of(const std::string& toml, std::string* message = nullptr) {
    try {
        Config::parse(toml, "tpm.toml");
    } catch (const Error& e) {
        if (message) *message = e.what();
        return e.errc();
    }
    ADD_FAILURE() << "no error for:\n" << toml;
    return Errc::internal;
}

TEST(ConfigTpmTest, TpmTables) {
    Config c = Config::parse(R"(
[[pkcs11]]
name = "yubikey"
module = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

[[tpm]]
name = "laptop"
tcti = "device:/dev/tpmrm0"
state_dir = "/var/lib/trustkey/tpm"
parent = 0x81000001
loaded_keys = 0
key_auth_file = "/run/credentials/trustkeyd/tpm-auth"

[[tpm]]
name = "sim"
tcti = "swtpm:host=127.0.0.1,port=2321"
)",
                             "full.toml");
    ASSERT_EQ(c.pkcs11.size(), 1u);
    ASSERT_EQ(c.tpm.size(), 2u);
    EXPECT_EQ(c.tpm[0].name, "laptop");
    EXPECT_EQ(c.tpm[0].tcti, "device:/dev/tpmrm0");
    EXPECT_EQ(c.tpm[0].state_dir, "/var/lib/trustkey/tpm");
    ASSERT_TRUE(c.tpm[0].parent.has_value());
    EXPECT_EQ(*c.tpm[0].parent, 0x81000001u);
    EXPECT_EQ(c.tpm[0].loaded_keys, 0u);
    EXPECT_EQ(c.tpm[0].key_auth.kind, backend::tpm2::AuthSource::Kind::file);
    EXPECT_EQ(c.tpm[0].key_auth.ref, "/run/credentials/trustkeyd/tpm-auth");
    EXPECT_EQ(c.tpm[1].key_auth.kind, backend::tpm2::AuthSource::Kind::none);
    EXPECT_EQ(c.tpm[1].tcti, "swtpm:host=127.0.0.1,port=2321");
    EXPECT_FALSE(c.tpm[1].parent.has_value());
    EXPECT_EQ(c.tpm[1].loaded_keys, 2u);
    // No state_dir: under XDG_DATA_HOME, named for the backend.
    EXPECT_EQ(c.tpm[1].state_dir.filename(), "sim");
    EXPECT_EQ(c.tpm[1].state_dir.parent_path().filename(), "tpm2");
}

TEST(ConfigTpmTest, BadTpmTablesRefused) {
    std::string msg;
    EXPECT_EQ(tpm_errc_of("[[tpm]]\nname=\"t\"\n", &msg), Errc::config);
    EXPECT_NE(msg.find("tcti"), std::string::npos) << msg;
    EXPECT_EQ(tpm_errc_of("[[tpm]]\ntcti=\"tabrmd\"\n"), Errc::config);
    EXPECT_EQ(tpm_errc_of("[[tpm]]\nname=\"t\"\ntcti=\"tabrmd\"\nparent=0x80000001\n"), Errc::config);
    EXPECT_EQ(tpm_errc_of("[[tpm]]\nname=\"t\"\ntcti=\"tabrmd\"\nloaded_keys=99\n"), Errc::config);
    EXPECT_EQ(tpm_errc_of("[[tpm]]\nname=\"t\"\ntcti=\"tabrmd\"\nslot=1\n", &msg), Errc::config);
    EXPECT_NE(msg.find("slot"), std::string::npos) << msg;
    EXPECT_EQ(tpm_errc_of("tpm = \"device\"\n"), Errc::config);
    EXPECT_EQ(tpm_errc_of("[[tpm]]\nname=\"t\"\ntcti=\"tabrmd\"\nkey_auth_env=\"A\"\nkey_auth_file=\"/f\"\n"),
              Errc::config);
    // Backend names are unique across kinds.
    EXPECT_EQ(tpm_errc_of("[[pkcs11]]\nname=\"a\"\nmodule=\"/m\"\n[[tpm]]\nname=\"a\"\ntcti=\"tabrmd\"\n", &msg),
              Errc::config);
    EXPECT_NE(msg.find("\"a\""), std::string::npos) << msg;
}

TEST(ConfigTpmTest, CliTpm) {
    Config c;
    add_cli_tpm(c, "swtpm:host=127.0.0.1,port=2321");
    ASSERT_EQ(c.tpm.size(), 1u);
    EXPECT_EQ(c.tpm[0].name, "tpm");
    EXPECT_EQ(c.tpm[0].state_dir.filename(), "tpm");
    // A second one of the same name is refused.
    try {
        add_cli_tpm(c, "tabrmd");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::config);
    }
}

TEST(ConfigTest, KeyConstraints) {
    const auto c = Config::parse(R"(
[[key_constraint]]
key = "releases"
confirm = true
lifetime_seconds = 3600

[[key_constraint]]
key = "ci-*"
lifetime_seconds = 60
)",
                                 "/etc/test.toml");
    ASSERT_EQ(c.key_constraints.size(), 2u);
    EXPECT_EQ(c.key_constraints[0].key, "releases");
    EXPECT_TRUE(c.key_constraints[0].confirm);
    EXPECT_EQ(c.key_constraints[0].lifetime_seconds, 3600u);
    EXPECT_EQ(c.key_constraints[0].line, 2u);
    EXPECT_FALSE(is_key_glob(c.key_constraints[0].key));
    EXPECT_EQ(c.key_constraints[1].key, "ci-*");
    EXPECT_FALSE(c.key_constraints[1].confirm);
    EXPECT_EQ(c.key_constraints[1].lifetime_seconds, 60u);
    EXPECT_TRUE(is_key_glob(c.key_constraints[1].key));
    EXPECT_TRUE(Config::parse("", "/etc/test.toml").key_constraints.empty());
}

TEST(ConfigTest, BadKeyConstraintsNameTheirLine) {
    const auto bad = [](const std::string& text, const std::string& expected) {
        std::string message;
        EXPECT_EQ(errc_of(text, &message), Errc::config) << text;
        EXPECT_NE(message.find(expected), std::string::npos) << message;
    };
    bad("log_level = \"info\"\n[[key_constraint]]\nkey = \"releases\"\nconfirm = true\nttl = 5\n",
        "[[key_constraint]] at line 5: unknown key \"ttl\"");
    bad("[[key_constraint]]\nconfirm = true\n", "[[key_constraint]] at line 1: \"key\" is required");
    bad("[[key_constraint]]\nkey = \"releases\"\n", "line 1: give confirm = true, lifetime_seconds, or both");
    bad("[[key_constraint]]\nkey = \"releases\"\nconfirm = false\n", "constrains nothing");
    bad("[[key_constraint]]\nkey = \"releases\"\nconfirm = \"yes\"\n",
        "line 3: \"confirm\" must be true or false");
    bad("[[key_constraint]]\nkey = \"releases\"\nlifetime_seconds = 0\n",
        "line 3: \"lifetime_seconds\" must be an integer between 1 and 604800");
    bad("[[key_constraint]]\nkey = \"releases\"\nlifetime_seconds = 1.5\n", "\"lifetime_seconds\" must be an integer");
    bad("[[key_constraint]]\nkey = \"\"\nconfirm = true\n", "line 2: \"key\" must be a key id, name or glob");
    bad("[[key_constraint]]\nkey = 7\nconfirm = true\n", "\"key\" must be a key id, name or glob");
    bad("key_constraint = \"releases\"\n", "key \"key_constraint\" at line 1 must be an array of tables");
}

} // namespace
} // namespace trustkey::config
