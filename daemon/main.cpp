// trustkeyd: arguments → Config → Daemon → run().
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "daemon/config/config.h"
#include "lib/core/error.h"
#include "lib/core/log.h"
#include "daemon/dbus/agent_service.h"
#include "daemon/dbus/session_lock_watch.h"
#include "daemon/server/daemon.h"
#include "daemon/server/listener.h"

namespace {

using trustkey::server::Daemon;

// No core dumps: they could hold key material or PINs.
void harden_process() {
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    const rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
}

// Forks; the parent waits for the child to report "listening" or an error, and exits.
// Returns the write end of the readiness pipe in the child.
int daemonize() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) trustkey::throw_errno("pipe2", errno);
    const pid_t pid = ::fork();
    if (pid < 0) trustkey::throw_errno("fork", errno);
    if (pid > 0) {
        ::close(fds[1]);
        std::string report;
        char buf[512];
        for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;
            report.append(buf, static_cast<std::size_t>(n));
        }
        if (report == "ready") std::_Exit(0);
        std::fprintf(stderr, "trustkeyd: %s\n", report.empty() ? "the daemon exited during start-up" : report.c_str());
        std::_Exit(1);
    }
    ::close(fds[0]);
    ::setsid();
    // Nothing more goes to the launching shell's terminal: start-up errors travel through
    // the pipe, the log goes to a file or syslog.
    if (const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC); devnull >= 0) {
        ::dup2(devnull, STDIN_FILENO);
        ::dup2(devnull, STDOUT_FILENO);
        ::dup2(devnull, STDERR_FILENO);
        ::close(devnull);
    }
    return fds[1];
}

// --log-file or log_file: that file; else stderr in the foreground, syslog once daemonized
// (as ssh-agent and gpg-agent do).
void init_logging(const std::string& level, const std::optional<std::filesystem::path>& file, bool foreground) {
    if (file)
        trustkey::log::init_file(level, *file);
    else if (foreground)
        trustkey::log::init(level);
    else
        trustkey::log::init_syslog(level, "trustkeyd");
}

void report(int fd, const std::string& text) {
    if (fd < 0) return;
    [[maybe_unused]] const ssize_t n = ::write(fd, text.data(), text.size());
    ::close(fd);
}

} // namespace

int main(int argc, char** argv) {
    harden_process();
    // tpm2-tss writes its own error lines to stderr; trustkeyd reports TPM errors itself.
    ::setenv("TSS2_LOG", "all+none", 0);

    CLI::App app{"trustkeyd: keeps signing keys on PKCS#11 tokens and TPMs and signs for Docker Content Trust"};
    bool foreground = false;
    std::optional<std::string> socket;
    std::optional<std::string> config_file;
    std::optional<std::string> log_level;
    std::optional<std::string> log_file;
    std::optional<std::string> tpm;
    std::optional<std::string> dbus;
    app.add_flag("-f,--foreground", foreground,
                 "Stay in the foreground (always when a service manager starts it: socket activation, "
                 "$NOTIFY_SOCKET)");
    app.add_option("--socket", socket, "Listen on this Unix socket path");
    app.add_option("--config", config_file, "Read this TOML configuration file");
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");
    app.add_option("--log-file", log_file,
                   "Append the log to this file (default: standard error with --foreground, else syslog)");
    app.add_option("--tpm", tpm, "Also keep keys in this TPM 2.0, as backend \"tpm\" (a TCTI: device:/dev/tpmrm0, "
                                 "tabrmd, swtpm:host=H,port=P)");
    app.add_option("--dbus", dbus,
                   "Serve the D-Bus interface on the session bus (session) or not (none); default: session when "
                   "DBUS_SESSION_BUS_ADDRESS is set");
    app.set_version_flag("--version", trustkey::server::Dispatcher::server_name());
    CLI11_PARSE(app, argc, argv);

    int ready_fd = -1;
    try {
        std::optional<std::filesystem::path> cfg_path;
        if (config_file) cfg_path = *config_file;
        auto config = trustkey::config::Config::load_default(cfg_path);
        if (tpm) trustkey::config::add_cli_tpm(config, *tpm);
        const std::string level = log_level.value_or(config.log_level.value_or("info"));
        if (!trustkey::log::valid_level(level))
            throw trustkey::Error(trustkey::Errc::config, "--log-level must be one of trace, debug, info, warn, "
                                                          "error, off; got " + trustkey::log::quoted(level));
        std::optional<std::filesystem::path> cli_socket;
        if (socket) cli_socket = *socket;
        const auto socket_path = trustkey::config::resolve_socket_path(cli_socket, config);
        std::optional<std::filesystem::path> log_path = config.log_file;
        if (log_file) log_path = *log_file;
        if (log_path && log_path->empty()) throw trustkey::Error(trustkey::Errc::config, "--log-file needs a path");
        if (log_path) log_path = std::filesystem::absolute(*log_path);
        const auto dbus_mode = trustkey::config::resolve_dbus_mode(dbus, config);

        // Started by a service manager (socket activation, Type=notify): it tracks this process,
        // so trustkeyd stays in the foreground and serves the socket it was given.
        auto inherited = trustkey::server::Listener::from_service_manager();
        if (inherited || std::getenv("NOTIFY_SOCKET") != nullptr) foreground = true;
        if (!foreground) ready_fd = daemonize();
        init_logging(level, log_path, foreground);
        Daemon::block_stop_signals();
        Daemon::raise_open_files_limit();
        Daemon daemon(config, socket_path, std::move(inherited));
        // Null without a bus (one log line): the socket is served all the same.
        const auto dbus_service = trustkey::dbus::start_agent_service(daemon, dbus_mode);
        // Follows logind's Lock on the system bus; null without one (one log line).
        const auto lock_watch = trustkey::dbus::start_session_lock_watch(daemon, config);
        report(ready_fd, "ready");
        ready_fd = -1;
        try {
            daemon.run();
        } catch (const std::exception& e) {
            spdlog::error("event=fatal error={}", trustkey::log::quoted(e.what()));
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        const std::string line = fmt::format("cannot start: {}", e.what());
        if (ready_fd >= 0)
            report(ready_fd, line);
        else
            std::fprintf(stderr, "trustkeyd: %s\n", line.c_str());
        return 1;
    }
}
