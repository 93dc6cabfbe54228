// A real trustkeyd for the CLI tests (tests/fixtures/trustkeyd_instance.h) in a
// home of its own, listening on a socket given with --socket, and the trustkey
// CLI pointed at it. SOFTHSM2_CONF reaches the daemon only when the options set it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tests/fixtures/process.h"
#include "tests/fixtures/trustkeyd_home.h"
#include "tests/fixtures/trustkeyd_instance.h"

namespace trustkey::test {

// Paths of the binaries under test, from the build.
std::string trustkeyd_path();
std::string trustkey_cli_path();

class CliDaemon {
public:
    using Options = TrustkeydOptions;

    // Starts the daemon and waits (bounded) until its socket accepts connections;
    // throws with the daemon's log when it does not.
    explicit CliDaemon(Options options = {});

    const std::filesystem::path& socket_path() const noexcept { return m_daemon.socket_path(); }
    const std::filesystem::path& dir() const noexcept { return m_home.root(); }
    std::string log() const { return m_daemon.log(); }

    // Runs the trustkey CLI with --socket pointing at this daemon.
    ProcessResult trustkey(const std::vector<std::string>& args, const ProcessOptions& options = {}) const;
    // The same on a pseudo-terminal made by script(1), with `typed` typed in; the
    // terminal's output (prompts and all) is in `out`.
    ProcessResult trustkey_on_terminal(const std::vector<std::string>& args, const std::string& typed,
                                       const ProcessOptions& options = {}) const;

private:
    TrustkeydHome m_home{"trustkey-cli-test"};
    TrustkeydInstance m_daemon;
};

// Runs the trustkey CLI with exactly these arguments (TRUSTKEY_SOCK removed unless the options set it).
ProcessResult run_trustkey(const std::vector<std::string>& args, const ProcessOptions& options = {});

} // namespace trustkey::test
