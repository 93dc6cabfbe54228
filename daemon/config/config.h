// trustkeyd configuration: a TOML file (all keys optional), command-line
// overrides and environment defaults.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/key_constraint.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/backend/tpm2/tpm2_config.h"

namespace trustkey::config {

inline constexpr std::size_t kDefaultMaxConnections = 128;
inline constexpr unsigned kDefaultFrameTimeoutSeconds = 30;
inline constexpr unsigned kDefaultIdleTimeoutSeconds = 600;
inline constexpr std::size_t kDefaultMaxQueuedRequests = 1024;
inline constexpr unsigned kDefaultPinCacheSeconds = 600;
inline constexpr unsigned kDefaultPinentryTimeoutSeconds = 120;

// Which bus the D-Bus interface (daemon/dbus/) is served on.
enum class DbusMode { none, session };

struct Config {
    std::optional<std::filesystem::path> socket;  // from the file; see resolve_socket_path()
    std::optional<std::string> log_level;         // trace, debug, info, warn, error, off
    std::optional<std::filesystem::path> log_file;  // append the log here (else stderr, or syslog when daemonized)
    std::size_t max_connections = kDefaultMaxConnections;
    bool allow_root = true;                       // uid 0 may connect, as ssh-agent allows
    unsigned frame_timeout_seconds = kDefaultFrameTimeoutSeconds;  // a partial frame (or unread reply) may stall this long
    unsigned idle_timeout_seconds = kDefaultIdleTimeoutSeconds;    // a connection doing nothing is closed; 0: never
    unsigned idle_lock_seconds = 0;  // the daemon locks itself after this long without a key used; 0: never
    unsigned token_poll_seconds = 2;  // how often PKCS#11 tokens are looked for (pulled, put back); 0: never
    std::size_t max_queued_requests = kDefaultMaxQueuedRequests;   // per backend queue; past it: STATUS_BUSY
    std::size_t batch_chunk = 8;       // SignBatch items signed per turn before other clients' requests
    std::size_t general_workers = 2;   // workers for requests bound to no backend (listing, status)
    std::optional<DbusMode> dbus;                 // "session" or "none"; see resolve_dbus_mode()
    // Follow logind on the system bus (daemon/dbus/session_lock_watch.h): lock when a session of
    // this user locks, and before the machine sleeps.
    bool lock_on_session_lock = true;
    bool lock_before_sleep = true;
    // The program that asks for the PIN of a token with no pin_file / pin_env: a path or a
    // name in PATH; "none": such a token waits for `trustkey login`.
    std::string pinentry = "pinentry";
    unsigned pin_cache_seconds = kDefaultPinCacheSeconds;  // a PIN typed there is kept (locked memory) this long
    unsigned pinentry_timeout_seconds = kDefaultPinentryTimeoutSeconds;  // the user has this long to answer
    std::vector<backend::pkcs11::Pkcs11Config> pkcs11;  // empty: the embedded default token
    std::vector<backend::tpm2::Tpm2Config> tpm;         // TPM 2.0 backends, opened after the PKCS#11 ones
    std::vector<KeyConstraint> key_constraints;         // [[key_constraint]]: confirm each use, login lifetime
    std::filesystem::path source;                 // the file it was read from, empty for defaults

    // Parses TOML text; `origin` names the file in errors. Throws Errc::config on a syntax
    // error, an unknown key, a value of the wrong type or range, or contradictory settings.
    static Config parse(std::string_view toml_text, const std::filesystem::path& origin);
    // Reads and parses a file. Throws Errc::config when it cannot be read.
    static Config load(const std::filesystem::path& file);
    // The file given, else the default file when it exists, else defaults.
    static Config load_default(const std::optional<std::filesystem::path>& file);
};

// $XDG_CONFIG_HOME/trustkey/trustkeyd.toml (default ~/.config/trustkey/trustkeyd.toml).
std::filesystem::path default_config_path();

// --socket > config > $TRUSTKEY_SOCK > $XDG_RUNTIME_DIR/trustkey/agent.sock
// > /run/user/<uid>/trustkey/agent.sock.
std::filesystem::path resolve_socket_path(const std::optional<std::filesystem::path>& cli, const Config& config);

// "session" or "none" (throws Errc::config for anything else).
DbusMode parse_dbus_mode(std::string_view text);
// --dbus > config > session when $DBUS_SESSION_BUS_ADDRESS is set, else none.
DbusMode resolve_dbus_mode(const std::optional<std::string>& cli, const Config& config);

// The PKCS#11 backends to open: the configured ones, or the embedded default token (created
// on first use under $XDG_DATA_HOME/trustkey) when no [[pkcs11]] is configured. TPM
// backends (config.tpm) are opened beside them.
std::vector<backend::pkcs11::Pkcs11Config> backends_to_open(const Config& config);

// Adds the TPM that `trustkeyd --tpm TCTI` names, as backend "tpm" with its state under
// $XDG_DATA_HOME/trustkey/tpm2/tpm. Throws config when a backend of that name is configured.
void add_cli_tpm(Config& config, const std::string& tcti);

} // namespace trustkey::config
