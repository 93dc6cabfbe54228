// Running the real trustkey-ceremony binary in tests: inside a network namespace of its
// own (`unshare -n`: only a loopback interface, down) or, for the refusal, outside it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fixtures/process.h"

namespace trustkey::test {

struct CeremonyRun {
    bool isolated = true;                 // run under `unshare -n`
    std::vector<std::string> env{};       // extra "NAME=value"
    std::vector<std::string> unset{};
    std::string stdin_data{};
};

// Runs trustkey-ceremony with `args`; TRUSTKEY_PKCS11_MODULE is the SoftHSM2 module and
// TRUSTKEY_CEREMONY_OPERATOR "test operator" unless `run.env` sets or `run.unset` names them.
ProcessResult run_ceremony(const std::vector<std::string>& args, const CeremonyRun& run = {});

// The transcript's lines, each parsed.
std::vector<nlohmann::json> transcript_lines(const std::filesystem::path& transcript);

// Whether an interface other than loopback is up, from /sys/class/net/*/flags (so tests of
// the refusal can tell a machine without network from a check that does nothing).
bool host_network_is_up();

// Initializes another token beside the existing ones, in the directory of the current
// $SOFTHSM2_CONF (set by the first SoftHsmToken). Throws on failure.
void add_softhsm_token(const std::string& label, const std::string& user_pin, const std::string& so_pin = "5678");

} // namespace trustkey::test
