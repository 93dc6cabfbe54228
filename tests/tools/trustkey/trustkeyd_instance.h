// A real trustkeyd in the foreground for tests: its own XDG runtime, data and
// config directories under a temporary directory (so it makes its own embedded
// SoftHSM2 token, or uses the configuration given), listening on a socket there.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/process.h"

namespace trustkey::test {

// Paths of the binaries under test, from the build.
std::string trustkeyd_path();
std::string trustkey_cli_path();

class TrustkeydInstance {
public:
    struct Options {
        std::optional<std::string> config_toml;  // written to a file and passed with --config
        std::vector<std::string> env;            // extra "NAME=value" for the daemon
    };

    // Starts the daemon and waits (bounded) until its socket accepts connections;
    // throws with the daemon's log when it does not.
    TrustkeydInstance();
    explicit TrustkeydInstance(Options options);
    ~TrustkeydInstance();

    const std::filesystem::path& socket_path() const noexcept { return m_socket; }
    const std::filesystem::path& dir() const noexcept { return m_dir.path(); }
    std::string log() const;

    // Runs the trustkey CLI with --socket pointing at this daemon.
    ProcessResult trustkey(const std::vector<std::string>& args, const ProcessOptions& options = {}) const;

private:
    TempDir m_dir{"trustkey-cli-test"};
    std::filesystem::path m_socket;
    std::filesystem::path m_log;
    std::unique_ptr<BackgroundProcess> m_process;
};

// Runs the trustkey CLI with exactly these arguments.
ProcessResult run_trustkey(const std::vector<std::string>& args, const ProcessOptions& options = {});

} // namespace trustkey::test
