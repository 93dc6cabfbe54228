// What the tests of trustkeyd under a service manager share: bounded waits,
// and the environment systemd-socket-activate passes on to the daemon it starts.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tests/fixtures/fixture_io.h"  // read_file, occurrences
#include "tests/fixtures/trustkeyd_home.h"

namespace trustkey::test {

// /proc/PID/comm: which program the process runs now.
std::string comm_of(pid_t pid);
// Polls `done` until it holds or `timeout` passes; false on timeout.
bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout);
// systemd-socket-activate passes the child only the variables given with -E: the home's,
// `extra` ("NAME=value"), and the sanitizer runtimes' options of a sanitized build
// (scripts/test-sanitize.sh). The -E arguments for them.
std::vector<std::string> activator_env_args(const TrustkeydHome& home, const std::vector<std::string>& extra = {});
// A sanitizer report in a log that trustkeyd wrote to.
bool has_sanitizer_report(const std::string& log);

} // namespace trustkey::test
