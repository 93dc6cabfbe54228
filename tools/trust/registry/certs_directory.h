// Registry TLS configured the way docker configures it: a directory per registry
// under a certs root (/etc/docker/certs.d/<host[:port]>/) where every `*.crt` is a CA
// trusted for that registry on top of the system store, and each `NAME.cert` with its
// `NAME.key` is a client certificate pair. A `.cert` without its `.key` (or the
// reverse) is an error, as in docker; a missing directory means no extra settings.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace trustkey::registry {

// What one registry's directory holds.
struct RegistryTls {
    std::filesystem::path dir;                         // the directory read; empty when none exists
    std::vector<std::filesystem::path> ca_files;       // *.crt, in name order
    std::optional<std::filesystem::path> client_cert;  // the first NAME.cert in name order
    std::optional<std::filesystem::path> client_key;   // its NAME.key
};

class CertsDirectory {
public:
    static constexpr const char* kSystemRoot = "/etc/docker/certs.d";

    // Docker's roots: for a user other than root, $XDG_CONFIG_HOME/docker/certs.d
    // (~/.config/docker/certs.d), where rootless docker keeps them, first; then
    // /etc/docker/certs.d.
    static std::vector<std::filesystem::path> default_roots();

    // Roots are searched in order; the first holding a directory for the host is used.
    explicit CertsDirectory(std::vector<std::filesystem::path> roots = default_roots());

    // The settings for `host` ("registry.example.com", "127.0.0.1:5000"). Throws
    // trustkey::Error (Errc::config) naming the file: unreadable directory, a .crt with
    // no PEM certificate, a .cert without its .key or a .key without its .cert.
    RegistryTls for_host(const std::string& host) const;

    const std::vector<std::filesystem::path>& roots() const noexcept { return m_roots; }
    // Where a CA for `host` is expected: <first root>/<host>/ca.crt (for messages).
    std::filesystem::path ca_hint(const std::string& host) const;

private:
    std::vector<std::filesystem::path> m_roots;
};

} // namespace trustkey::registry
