// The real trustkeyd, started in the foreground on a socket in the benchmark's
// temporary directory, with a config naming one PKCS#11 token and a PIN file.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench/child_process.h"

namespace trustkey::bench {

struct TrustkeydOptions {
    std::filesystem::path binary;
    std::filesystem::path dir;      // holds trustkeyd.toml, agent.sock, trustkeyd.log
    std::string module;             // PKCS#11 module path
    std::string token_label;
    std::filesystem::path pin_file;
    std::size_t sessions = 4;
    std::size_t max_connections = 2000;  // room for the many-clients runs
    std::string log_level = "warn";
    std::vector<std::string> env;   // "NAME=value" (SOFTHSM2_CONF …)
};

class TrustkeydProcess {
public:
    // Writes the config, starts the daemon and waits (bounded) until a client can connect.
    TrustkeydProcess(const TrustkeydOptions& options, const std::atomic<bool>& stop);

    const std::string& socket_path() const noexcept { return m_socket; }
    pid_t pid() const noexcept { return m_process->pid(); }
    ChildProcess& process() noexcept { return *m_process; }

private:
    std::string m_socket;
    std::unique_ptr<ChildProcess> m_process;
};

} // namespace trustkey::bench
