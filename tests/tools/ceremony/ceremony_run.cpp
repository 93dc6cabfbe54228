#include "tests/tools/ceremony/ceremony_run.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::test {

ProcessResult run_ceremony(const std::vector<std::string>& args, const CeremonyRun& run) {
    std::vector<std::string> argv;
    if (run.isolated) argv = {"unshare", "-n", "--"};
    argv.emplace_back(TRUSTKEY_CEREMONY_PATH);
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    for (std::string entry : {"TRUSTKEY_PKCS11_MODULE=" + SoftHsmToken::module(),
                              std::string("TRUSTKEY_CEREMONY_OPERATOR=test operator")}) {
        const std::string name = entry.substr(0, entry.find('='));
        if (std::find(run.unset.begin(), run.unset.end(), name) == run.unset.end()) options.env.push_back(entry);
    }
    options.env.insert(options.env.end(), run.env.begin(), run.env.end());
    options.unset = run.unset;
    options.stdin_data = run.stdin_data;
    return run_process(argv, options);
}

bool host_network_is_up() {
    for (const auto& entry : std::filesystem::directory_iterator("/sys/class/net")) {
        std::ifstream in(entry.path() / "flags");
        unsigned long flags = 0;
        in >> std::hex >> flags;
        if ((flags & 0x1) != 0 && (flags & 0x8) == 0) return true;  // IFF_UP, not IFF_LOOPBACK
    }
    return false;
}

void add_softhsm_token(const std::string& label, const std::string& user_pin, const std::string& so_pin) {
    const CommandResult r = run_command("softhsm2-util --init-token --free --label " + shell_quote(label) +
                                        " --pin " + shell_quote(user_pin) + " --so-pin " + shell_quote(so_pin));
    if (r.exit_code != 0) throw std::runtime_error("softhsm2-util --init-token failed: " + r.output);
}

std::vector<nlohmann::json> transcript_lines(const std::filesystem::path& transcript) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(transcript);
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
}

} // namespace trustkey::test
