#include "bench/trustkeyd_process.h"

#include <cstdio>
#include <fstream>

#include "lib/core/error.h"
#include "trustkey/proto/client.h"

namespace trustkey::bench {
namespace {

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

} // namespace

TrustkeydProcess::TrustkeydProcess(const TrustkeydOptions& o, const std::atomic<bool>& stop) {
    if (o.binary.empty())
        throw Error(Errc::config, "no trustkeyd binary: build the trustkeyd target or pass --trustkeyd PATH");
    m_socket = (o.dir / "agent.sock").string();
    const auto config = o.dir / "trustkeyd.toml";
    {
        std::ofstream out(config);
        out << "log_level = " << toml_string(o.log_level) << "\n"
            << "max_connections = " << o.max_connections << "\n\n"
            << "[[pkcs11]]\n"
            << "name = \"bench\"\n"
            << "module = " << toml_string(o.module) << "\n"
            << "token = " << toml_string("pkcs11:token=" + o.token_label) << "\n"
            << "pin_file = " << toml_string(o.pin_file.string()) << "\n"
            << "sessions = " << o.sessions << "\n";
        if (!out) throw Error(Errc::io, "cannot write the trustkeyd config", 0, {}, config.string());
    }
    std::vector<std::string> env = o.env;
    // Keep the daemon away from the user's own directories.
    env.push_back("HOME=" + o.dir.string());
    env.push_back("XDG_CONFIG_HOME=" + (o.dir / "config").string());
    env.push_back("XDG_DATA_HOME=" + (o.dir / "data").string());
    env.push_back("XDG_RUNTIME_DIR=" + o.dir.string());
    m_process = std::make_unique<ChildProcess>(
        std::vector<std::string>{o.binary.string(), "--foreground", "--socket", m_socket, "--config", config.string()},
        env, o.dir / "trustkeyd.log");

    const std::string socket = m_socket;
    wait_until_ready(
        *m_process,
        [&socket] {
            try {
                proto::Client::connect(socket, std::chrono::seconds(5));
                return true;
            } catch (const proto::ClientError& e) {
                if (e.kind() == proto::ClientError::Kind::not_running) return false;
                throw;
            }
        },
        std::chrono::seconds(20), stop);
}

} // namespace trustkey::bench
