#include "tools/trust/registry/credential_helper.h"

#include <nlohmann/json.hpp>

#include "lib/core/error.h"
#include "tools/trust/registry/docker_program.h"

namespace trustkey::registry {

namespace {

std::string first_line(const std::string& s) {
    std::string line = s.substr(0, s.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
}

} // namespace

CredentialHelper::CredentialHelper(std::string name, std::chrono::milliseconds timeout)
    : m_program("docker-credential-" + std::move(name)), m_timeout(timeout) {}

std::optional<Credentials> CredentialHelper::get(const std::string& server_url) const {
    ProgramRun run = run_docker_program({m_program, "get"}, server_url, m_timeout, kMaxOutput,
                                        "credential helper " + m_program);
    if (run.exit_code == 127)
        throw Error(Errc::config, "credential helper " + m_program + " was not found in PATH", 127, "get", m_program);
    if (run.exit_code != 0) {
        const std::string msg = first_line(run.out);
        wipe(run.out);
        if (msg.find("credentials not found") != std::string::npos) return std::nullopt;
        throw Error(Errc::config,
                    "credential helper " + m_program + " failed for " + server_url + " (exit " +
                        std::to_string(run.exit_code) + "): " + msg,
                    static_cast<std::uint64_t>(run.exit_code), "get", m_program);
    }
    const auto json = nlohmann::json::parse(run.out, nullptr, false);
    wipe(run.out);
    if (!json.is_object() || !json.contains("Username") || !json["Username"].is_string() || !json.contains("Secret") ||
        !json["Secret"].is_string())
        throw Error(Errc::config,
                    "credential helper " + m_program + " printed no JSON object with Username and Secret for " +
                        server_url,
                    0, "get", m_program);
    Credentials creds;
    const std::string user = json["Username"].get<std::string>();
    std::string secret = json["Secret"].get<std::string>();
    if (user == "<token>")
        creds.identity_token = secure_from(secret);
    else {
        creds.username = user;
        creds.password = secure_from(secret);
    }
    wipe(secret);
    return creds;
}

} // namespace trustkey::registry
