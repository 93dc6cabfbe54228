// Docker credential helpers: `docker-credential-<name> get` reads a server URL on
// stdin and prints {"ServerURL":…,"Username":…,"Secret":…} on stdout.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "tools/trust/registry/credentials.h"

namespace trustkey::registry {

class CredentialHelper {
public:
    static constexpr auto kDefaultTimeout = std::chrono::seconds(30);
    static constexpr std::size_t kMaxOutput = 64 * 1024;

    // `name` is the part after "docker-credential-" (looked up in PATH).
    explicit CredentialHelper(std::string name, std::chrono::milliseconds timeout = kDefaultTimeout);

    // The stored credentials for `server_url`, nullopt when the helper has none
    // ("credentials not found"). Throws trustkey::Error (Errc::config) when the helper
    // cannot be run, fails otherwise, times out or prints something unparsable.
    std::optional<Credentials> get(const std::string& server_url) const;

    const std::string& program() const noexcept { return m_program; }

private:
    std::string m_program;
    std::chrono::milliseconds m_timeout;
};

} // namespace trustkey::registry
