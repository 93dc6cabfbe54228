#include "bench/p11kit_server.h"

namespace trustkey::bench {

P11KitServer::P11KitServer(const std::string& p11kit, const std::string& provider, const std::string& token_label,
                           const std::filesystem::path& dir, const std::vector<std::string>& env,
                           const std::atomic<bool>& stop)
    : m_socket(dir / "p11-kit.sock") {
    m_process = std::make_unique<ChildProcess>(
        std::vector<std::string>{p11kit, "server", "--foreground", "--sh", "--name", m_socket.string(), "--provider",
                                 provider, "pkcs11:token=" + token_label},
        env, dir / "p11-kit-server.log");
    const auto socket = m_socket;
    wait_until_ready(*m_process, [&socket] { return unix_socket_accepts(socket); }, std::chrono::seconds(20), stop);
}

} // namespace trustkey::bench
