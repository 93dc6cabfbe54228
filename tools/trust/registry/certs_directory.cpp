#include "tools/trust/registry/certs_directory.h"

#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>

#include "lib/core/error.h"

namespace trustkey::registry {

namespace fs = std::filesystem;

namespace {

struct BioDeleter {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct X509Deleter {
    void operator()(X509* x) const noexcept { X509_free(x); }
};

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
}

[[noreturn]] void config_error(const std::string& message, const fs::path& subject) {
    throw Error(Errc::config, message, 0, "certs.d", subject.string());
}

// True when `file` holds at least one PEM certificate.
bool has_pem_certificate(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in.is_open()) config_error("cannot open CA certificate " + file.string(), file);
    const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) config_error("cannot read CA certificate " + file.string(), file);
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) config_error("out of memory reading " + file.string(), file);
    std::unique_ptr<X509, X509Deleter> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    return cert != nullptr;
}

} // namespace

std::vector<fs::path> CertsDirectory::default_roots() {
    std::vector<fs::path> roots;
    if (::geteuid() != 0) {
        if (const std::string xdg = env("XDG_CONFIG_HOME"); !xdg.empty())
            roots.push_back(fs::path(xdg) / "docker" / "certs.d");
        else if (const std::string home = env("HOME"); !home.empty())
            roots.push_back(fs::path(home) / ".config" / "docker" / "certs.d");
    }
    roots.emplace_back(kSystemRoot);
    return roots;
}

CertsDirectory::CertsDirectory(std::vector<fs::path> roots) : m_roots(std::move(roots)) {}

fs::path CertsDirectory::ca_hint(const std::string& host) const {
    return (m_roots.empty() ? fs::path(kSystemRoot) : m_roots.front()) / host / "ca.crt";
}

RegistryTls CertsDirectory::for_host(const std::string& host) const {
    RegistryTls tls;
    // A registry host never holds a path separator; refuse to leave the root.
    if (host.empty() || host == "." || host == ".." || host.find('/') != std::string::npos) return tls;
    for (const fs::path& root : m_roots) {
        const fs::path dir = root / host;
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory)
                config_error("cannot read " + dir.string() + ": " + ec.message(), dir);
            continue;
        }
        std::set<std::string> names;  // in name order, as docker reads the directory
        fs::directory_iterator it(dir, ec);
        if (ec) config_error("cannot read " + dir.string() + ": " + ec.message(), dir);
        for (; it != fs::directory_iterator(); it.increment(ec)) {
            if (ec) config_error("cannot read " + dir.string() + ": " + ec.message(), dir);
            names.insert(it->path().filename().string());
        }
        if (ec) config_error("cannot read " + dir.string() + ": " + ec.message(), dir);

        tls.dir = dir;
        for (const std::string& name : names) {
            const fs::path file = dir / name;
            const std::string ext = fs::path(name).extension().string();
            const std::string stem = fs::path(name).stem().string();
            if (ext == ".crt") {
                if (!has_pem_certificate(file))
                    config_error("no PEM certificate in " + file.string() + " (CA certificates in " + dir.string() +
                                     " must be PEM files named *.crt)",
                                 file);
                tls.ca_files.push_back(file);
            } else if (ext == ".cert") {
                if (!names.contains(stem + ".key"))
                    config_error("missing key " + (dir / (stem + ".key")).string() + " for client certificate " +
                                     file.string() + " (CA certificates must be named *.crt)",
                                 file);
                if (!tls.client_cert) {
                    tls.client_cert = file;
                    tls.client_key = dir / (stem + ".key");
                }
            } else if (ext == ".key") {
                if (!names.contains(stem + ".cert"))
                    config_error("missing client certificate " + (dir / (stem + ".cert")).string() + " for key " +
                                     file.string(),
                                 file);
            }
        }
        return tls;
    }
    return tls;
}

} // namespace trustkey::registry
