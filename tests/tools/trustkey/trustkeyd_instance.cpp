#include "tests/tools/trustkey/trustkeyd_instance.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "daemon/core/unique_fd.h"

namespace trustkey::test {

namespace fs = std::filesystem;

namespace {

constexpr auto kStartDeadline = std::chrono::seconds(60);
constexpr int kPollTickMs = 20;

bool accepts_connections(const fs::path& socket) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = socket.string();
    if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

} // namespace

std::string trustkeyd_path() { return TRUSTKEYD_PATH; }
std::string trustkey_cli_path() { return TRUSTKEY_CLI_PATH; }

TrustkeydInstance::TrustkeydInstance() : TrustkeydInstance(Options{}) {}

TrustkeydInstance::TrustkeydInstance(Options options) {
    const fs::path run = m_dir / "run";
    const fs::path data = m_dir / "data";
    const fs::path config = m_dir / "config";
    for (const auto& d : {run, data, config}) {
        fs::create_directories(d);
        fs::permissions(d, fs::perms::owner_all, fs::perm_options::replace);
    }
    m_socket = run / "agent.sock";
    m_log = m_dir / "trustkeyd.log";

    std::vector<std::string> argv{trustkeyd_path(), "--foreground", "--socket", m_socket.string()};
    if (options.config_toml) {
        const fs::path file = m_dir / "trustkeyd.toml";
        std::ofstream(file) << *options.config_toml;
        argv.push_back("--config");
        argv.push_back(file.string());
    }
    std::vector<std::string> env{"XDG_RUNTIME_DIR=" + run.string(), "XDG_DATA_HOME=" + data.string(),
                                 "XDG_CONFIG_HOME=" + config.string(), "HOME=" + m_dir.path().string()};
    env.insert(env.end(), options.env.begin(), options.env.end());
    m_process = std::make_unique<BackgroundProcess>(argv, env, m_log);

    // Poll for the condition (the socket accepts), bounded by a deadline, and stop
    // early when the daemon exits.
    const auto deadline = std::chrono::steady_clock::now() + kStartDeadline;
    while (!accepts_connections(m_socket)) {
        if (!m_process->running())
            throw std::runtime_error("trustkeyd exited during start-up; its log:\n" + log());
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("trustkeyd did not accept connections in time; its log:\n" + log());
        ::poll(nullptr, 0, kPollTickMs);
    }
}

TrustkeydInstance::~TrustkeydInstance() = default;

std::string TrustkeydInstance::log() const {
    std::ifstream in(m_log);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

ProcessResult TrustkeydInstance::trustkey(const std::vector<std::string>& args, const ProcessOptions& options) const {
    std::vector<std::string> full{"--socket", m_socket.string()};
    full.insert(full.end(), args.begin(), args.end());
    return run_trustkey(full, options);
}

ProcessResult run_trustkey(const std::vector<std::string>& args, const ProcessOptions& options) {
    std::vector<std::string> argv{trustkey_cli_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o = options;
    o.unset.push_back("TRUSTKEY_SOCK");
    return run_process(argv, o);
}

} // namespace trustkey::test
