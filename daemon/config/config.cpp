#include "daemon/config/config.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "daemon/config/key_constraint_toml.h"
#include "lib/backend/pkcs11/embedded_token.h"
#include "lib/core/error.h"
#include "lib/core/log.h"
#include "trustkey/proto/client.h"

#ifndef TRUSTKEY_SOFTHSM2_MODULE
#error "TRUSTKEY_SOFTHSM2_MODULE must be defined by the build"
#endif

namespace trustkey::config {

namespace fs = std::filesystem;
using backend::pkcs11::PinSource;
using backend::pkcs11::Pkcs11Config;
using backend::tpm2::Tpm2Config;

namespace {

constexpr std::int64_t kMaxConnectionsLimit = 65536;
constexpr std::int64_t kMaxSessions = 256;
constexpr std::int64_t kMaxFrameTimeout = 3600;
constexpr std::int64_t kMaxIdleTimeout = 7 * 24 * 3600;
constexpr std::int64_t kMaxQueuedLimit = 1 << 20;
constexpr std::int64_t kMaxPinCache = 7 * 24 * 3600;
constexpr std::int64_t kMaxPinentryTimeout = 3600;

[[noreturn]] void fail(const fs::path& origin, const std::string& what) {
    throw Error(Errc::config, what, 0, {}, origin.string());
}

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

std::string get_string(const toml::node& node, std::string_view key, const fs::path& origin) {
    const auto* s = node.as_string();
    if (!s) fail(origin, "key " + log::quoted(key) + " must be a string");
    if (s->get().empty()) fail(origin, "key " + log::quoted(key) + " must not be empty");
    return s->get();
}

std::int64_t get_int(const toml::node& node, std::string_view key, std::int64_t min, std::int64_t max,
                     const fs::path& origin) {
    const auto* i = node.as_integer();
    if (!i) fail(origin, "key " + log::quoted(key) + " must be an integer");
    const std::int64_t v = i->get();
    if (v < min || v > max)
        fail(origin, "key " + log::quoted(key) + " must be between " + std::to_string(min) + " and " +
                         std::to_string(max) + ", got " + std::to_string(v));
    return v;
}

bool get_bool(const toml::node& node, std::string_view key, const fs::path& origin) {
    const auto* b = node.as_boolean();
    if (!b) fail(origin, "key " + log::quoted(key) + " must be true or false");
    return b->get();
}

Pkcs11Config parse_pkcs11(const toml::table& table, std::size_t index, const fs::path& origin) {
    Pkcs11Config out;
    const std::string where = "[[pkcs11]] #" + std::to_string(index + 1);
    bool have_env = false;
    bool have_file = false;
    for (auto&& [k, v] : table) {
        const std::string key(k.str());
        if (key == "name") {
            out.name = get_string(v, key, origin);
        } else if (key == "module") {
            out.module = get_string(v, key, origin);
        } else if (key == "token") {
            out.token_uri = get_string(v, key, origin);
            if (out.token_uri.rfind("pkcs11:", 0) != 0)
                fail(origin, where + ": key \"token\" must be an RFC 7512 URI starting with \"pkcs11:\"");
        } else if (key == "pin_env") {
            out.pin = PinSource{PinSource::Kind::env, get_string(v, key, origin)};
            have_env = true;
        } else if (key == "pin_file") {
            out.pin = PinSource{PinSource::Kind::file, get_string(v, key, origin)};
            have_file = true;
        } else if (key == "sessions") {
            out.sessions = static_cast<std::size_t>(get_int(v, key, 1, kMaxSessions, origin));
        } else {
            fail(origin, where + ": unknown key " + log::quoted(key));
        }
    }
    if (have_env && have_file) fail(origin, where + ": set at most one of \"pin_env\" and \"pin_file\"");
    if (out.name.empty()) fail(origin, where + ": key \"name\" is required");
    if (out.module.empty()) fail(origin, where + ": key \"module\" is required");
    return out;
}

constexpr std::int64_t kMaxLoadedKeys = 16;
constexpr std::int64_t kPersistentFirst = 0x81000000;
constexpr std::int64_t kPersistentLast = 0x81FFFFFF;

Tpm2Config parse_tpm(const toml::table& table, std::size_t index, const fs::path& origin) {
    Tpm2Config out;
    const std::string where = "[[tpm]] #" + std::to_string(index + 1);
    for (auto&& [k, v] : table) {
        const std::string key(k.str());
        if (key == "name") {
            out.name = get_string(v, key, origin);
        } else if (key == "tcti") {
            out.tcti = get_string(v, key, origin);
        } else if (key == "state_dir") {
            out.state_dir = get_string(v, key, origin);
        } else if (key == "parent") {
            out.parent = static_cast<std::uint32_t>(get_int(v, key, kPersistentFirst, kPersistentLast, origin));
        } else if (key == "loaded_keys") {
            out.loaded_keys = static_cast<std::size_t>(get_int(v, key, 0, kMaxLoadedKeys, origin));
        } else if (key == "key_auth_env" || key == "key_auth_file") {
            if (out.key_auth.kind != backend::tpm2::AuthSource::Kind::none)
                fail(origin, where + ": set at most one of \"key_auth_env\" and \"key_auth_file\"");
            out.key_auth = {key == "key_auth_env" ? backend::tpm2::AuthSource::Kind::env
                                                  : backend::tpm2::AuthSource::Kind::file,
                            get_string(v, key, origin)};
        } else {
            fail(origin, where + ": unknown key " + log::quoted(key));
        }
    }
    if (out.name.empty()) fail(origin, where + ": key \"name\" is required");
    if (out.tcti.empty()) fail(origin, where + ": key \"tcti\" is required (e.g. \"device:/dev/tpmrm0\")");
    if (out.state_dir.empty()) out.state_dir = backend::tpm2::default_tpm2_state_dir(out.name);
    return out;
}

} // namespace

Config Config::parse(std::string_view toml_text, const fs::path& origin) {
    toml::table root;
    try {
        root = toml::parse(toml_text, origin.string());
    } catch (const toml::parse_error& e) {
        const auto& pos = e.source().begin;
        fail(origin, "syntax error at line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) +
                         ": " + std::string(e.description()));
    }

    Config cfg;
    cfg.source = origin;
    for (auto&& [k, v] : root) {
        const std::string key(k.str());
        if (key == "socket") {
            cfg.socket = fs::path(get_string(v, key, origin));
        } else if (key == "log_level") {
            std::string level = get_string(v, key, origin);
            if (!log::valid_level(level))
                fail(origin, "key \"log_level\" must be one of trace, debug, info, warn, error, off; got " +
                                 log::quoted(level));
            cfg.log_level = std::move(level);
        } else if (key == "log_file") {
            cfg.log_file = fs::path(get_string(v, key, origin));
        } else if (key == "max_connections") {
            cfg.max_connections = static_cast<std::size_t>(get_int(v, key, 1, kMaxConnectionsLimit, origin));
        } else if (key == "allow_root") {
            cfg.allow_root = get_bool(v, key, origin);
        } else if (key == "frame_timeout_seconds") {
            cfg.frame_timeout_seconds = static_cast<unsigned>(get_int(v, key, 1, kMaxFrameTimeout, origin));
        } else if (key == "idle_timeout_seconds") {
            cfg.idle_timeout_seconds = static_cast<unsigned>(get_int(v, key, 0, kMaxIdleTimeout, origin));
        } else if (key == "idle_lock_seconds") {
            cfg.idle_lock_seconds = static_cast<unsigned>(get_int(v, key, 0, kMaxIdleTimeout, origin));
        } else if (key == "token_poll_seconds") {
            cfg.token_poll_seconds = static_cast<unsigned>(get_int(v, key, 0, 3600, origin));
        } else if (key == "batch_chunk") {
            cfg.batch_chunk = static_cast<std::size_t>(get_int(v, key, 1, 960, origin));
        } else if (key == "general_workers") {
            cfg.general_workers = static_cast<std::size_t>(get_int(v, key, 1, 64, origin));
        } else if (key == "max_queued_requests") {
            cfg.max_queued_requests = static_cast<std::size_t>(get_int(v, key, 1, kMaxQueuedLimit, origin));
        } else if (key == "dbus") {
            const std::string mode = get_string(v, key, origin);
            if (mode != "session" && mode != "none")
                fail(origin, "key \"dbus\" must be \"session\" or \"none\"; got " + log::quoted(mode));
            cfg.dbus = parse_dbus_mode(mode);
        } else if (key == "lock_on_session_lock") {
            cfg.lock_on_session_lock = get_bool(v, key, origin);
        } else if (key == "lock_before_sleep") {
            cfg.lock_before_sleep = get_bool(v, key, origin);
        } else if (key == "pinentry") {
            cfg.pinentry = get_string(v, key, origin);
        } else if (key == "pin_cache_seconds") {
            cfg.pin_cache_seconds = static_cast<unsigned>(get_int(v, key, 0, kMaxPinCache, origin));
        } else if (key == "pinentry_timeout_seconds") {
            cfg.pinentry_timeout_seconds = static_cast<unsigned>(get_int(v, key, 1, kMaxPinentryTimeout, origin));
        } else if (key == "pkcs11") {
            const auto* arr = v.as_array();
            if (!arr || !arr->is_array_of_tables())
                fail(origin, "key \"pkcs11\" must be an array of tables ([[pkcs11]])");
            for (std::size_t i = 0; i < arr->size(); ++i)
                cfg.pkcs11.push_back(parse_pkcs11(*(*arr)[i].as_table(), i, origin));
        } else if (key == "tpm") {
            const auto* arr = v.as_array();
            if (!arr || !arr->is_array_of_tables()) fail(origin, "key \"tpm\" must be an array of tables ([[tpm]])");
            for (std::size_t i = 0; i < arr->size(); ++i)
                cfg.tpm.push_back(parse_tpm(*(*arr)[i].as_table(), i, origin));
        } else if (key == "key_constraint") {
            cfg.key_constraints = parse_key_constraints(v, origin);
        } else {
            fail(origin, "unknown key " + log::quoted(key));
        }
    }

    std::set<std::string> names;
    for (const auto& p : cfg.pkcs11)
        if (!names.insert(p.name).second) fail(origin, "two [[pkcs11]] tables are named " + log::quoted(p.name));
    for (const auto& t : cfg.tpm)
        if (!names.insert(t.name).second) fail(origin, "two backend tables are named " + log::quoted(t.name));
    return cfg;
}

Config Config::load(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) fail(file, "cannot read the configuration file");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) fail(file, "cannot read the configuration file");
    return parse(text.str(), file);
}

Config Config::load_default(const std::optional<fs::path>& file) {
    if (file) return load(*file);
    const fs::path def = default_config_path();
    std::error_code ec;
    if (!def.empty() && fs::exists(def, ec)) return load(def);
    return Config{};
}

fs::path default_config_path() {
    std::string base = env_or_empty("XDG_CONFIG_HOME");
    if (base.empty()) {
        const std::string home = env_or_empty("HOME");
        if (home.empty()) return {};
        base = home + "/.config";
    }
    return fs::path(base) / "trustkey" / "trustkeyd.toml";
}

fs::path resolve_socket_path(const std::optional<fs::path>& cli, const Config& config) {
    if (cli && !cli->empty()) return *cli;
    if (config.socket) return *config.socket;
    // The same rule as every client: $TRUSTKEY_SOCK, $XDG_RUNTIME_DIR, /run/user/<uid>, /tmp.
    return proto::Client::default_socket_path();
}

DbusMode parse_dbus_mode(std::string_view text) {
    if (text == "session") return DbusMode::session;
    if (text == "none") return DbusMode::none;
    throw Error(Errc::config, "--dbus must be session or none; got " + log::quoted(text));
}

DbusMode resolve_dbus_mode(const std::optional<std::string>& cli, const Config& config) {
    if (cli) return parse_dbus_mode(*cli);
    if (config.dbus) return *config.dbus;
    return env_or_empty("DBUS_SESSION_BUS_ADDRESS").empty() ? DbusMode::none : DbusMode::session;
}

std::vector<Pkcs11Config> backends_to_open(const Config& config) {
    if (!config.pkcs11.empty()) return config.pkcs11;
    return {backend::pkcs11::ensure_embedded_token(backend::pkcs11::default_data_dir(),
                                                   fs::path(TRUSTKEY_SOFTHSM2_MODULE))};
}

void add_cli_tpm(Config& config, const std::string& tcti) {
    if (tcti.empty()) throw Error(Errc::config, "--tpm needs a TCTI, e.g. device:/dev/tpmrm0");
    const std::string name = "tpm";
    for (const auto& p : config.pkcs11)
        if (p.name == name) throw Error(Errc::config, "--tpm: a backend named \"tpm\" is already configured");
    for (const auto& t : config.tpm)
        if (t.name == name) throw Error(Errc::config, "--tpm: a backend named \"tpm\" is already configured");
    Tpm2Config t;
    t.name = name;
    t.tcti = tcti;
    t.state_dir = backend::tpm2::default_tpm2_state_dir(name);
    config.tpm.push_back(std::move(t));
}

} // namespace trustkey::config
