// `p11-kit server` exporting one token of a PKCS#11 module on a Unix socket, for
// clients that load p11-kit's remote module (p11-kit-client.so).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench/child_process.h"

namespace trustkey::bench {

class P11KitServer {
public:
    // Starts `p11kit` (the p11-kit program) in the foreground and waits (bounded) for its socket.
    P11KitServer(const std::string& p11kit, const std::string& provider, const std::string& token_label,
                 const std::filesystem::path& dir, const std::vector<std::string>& env,
                 const std::atomic<bool>& stop);

    // The value for P11_KIT_SERVER_ADDRESS.
    std::string address() const { return "unix:path=" + m_socket.string(); }
    pid_t pid() const noexcept { return m_process->pid(); }

private:
    std::filesystem::path m_socket;
    std::unique_ptr<ChildProcess> m_process;
};

} // namespace trustkey::bench
