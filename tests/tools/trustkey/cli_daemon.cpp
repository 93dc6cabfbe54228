#include "tests/tools/trustkey/cli_daemon.h"

#include "tests/fixtures/command.h"

namespace trustkey::test {

namespace {

TrustkeydOptions for_cli(const TrustkeydHome& home, TrustkeydOptions options) {
    if (!options.socket) options.socket = home.runtime() / "agent.sock";
    options.unset.push_back("SOFTHSM2_CONF");  // an entry in options.env still sets it
    return options;
}

} // namespace

std::string trustkeyd_path() { return TRUSTKEYD_PATH; }
std::string trustkey_cli_path() { return TRUSTKEY_CLI_PATH; }

CliDaemon::CliDaemon(Options options) : m_daemon(trustkeyd_path(), m_home, for_cli(m_home, std::move(options))) {}

ProcessResult CliDaemon::trustkey(const std::vector<std::string>& args, const ProcessOptions& options) const {
    std::vector<std::string> full{"--socket", socket_path().string()};
    full.insert(full.end(), args.begin(), args.end());
    return run_trustkey(full, options);
}

ProcessResult CliDaemon::trustkey_on_terminal(const std::vector<std::string>& args, const std::string& typed,
                                             const ProcessOptions& options) const {
    std::string command = shell_quote(trustkey_cli_path()) + " --socket " + shell_quote(socket_path().string());
    for (const auto& a : args) command += " " + shell_quote(a);
    ProcessOptions o = options;
    o.stdin_data = typed;
    o.unset.push_back("TRUSTKEY_SOCK");
    return run_process({"script", "-qec", command, "/dev/null"}, o);
}

ProcessResult run_trustkey(const std::vector<std::string>& args, const ProcessOptions& options) {
    std::vector<std::string> argv{trustkey_cli_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o = options;
    o.unset.push_back("TRUSTKEY_SOCK");
    return run_process(argv, o);
}

} // namespace trustkey::test
