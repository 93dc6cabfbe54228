// Running one of docker's programs (a credential helper, the docker CLI itself): its
// arguments, a short input on stdin, standard output and error captured together up to
// a cap, and a time limit after which it is killed.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace trustkey::registry {

struct ProgramRun {
    int exit_code = -1;  // 127 when the program could not be found or run
    std::string out;     // stdout and stderr together
};

// Runs argv[0] (looked up in PATH unless it has a slash) with argv, writing `input` to its
// stdin. Throws trustkey::Error (Errc::config) naming `what` ("credential helper
// docker-credential-pass") when it cannot be started, runs longer than `timeout` or prints
// more than `max_output` bytes.
ProgramRun run_docker_program(const std::vector<std::string>& argv, const std::string& input,
                              std::chrono::milliseconds timeout, std::size_t max_output, const std::string& what);

} // namespace trustkey::registry
