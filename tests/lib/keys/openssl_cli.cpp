#include "tests/lib/keys/openssl_cli.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/fixtures/command.h"

namespace trustkey::test {

std::string must_run(const std::string& command) {
    CommandResult r = run_command(command);
    if (r.exit_code != 0)
        throw std::runtime_error("command failed (" + std::to_string(r.exit_code) + "): " + command + "\n" + r.output);
    return r.output;
}

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_bytes(const std::filesystem::path& path, std::span<const std::uint8_t> data) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

void generate_pem(const std::string& kind, const std::filesystem::path& out) {
    std::string args;
    if (kind == "ecdsa") args = "-algorithm EC -pkeyopt ec_paramgen_curve:P-256";
    else if (kind == "rsa") args = "-algorithm RSA -pkeyopt rsa_keygen_bits:2048";
    else if (kind == "rsa4096") args = "-algorithm RSA -pkeyopt rsa_keygen_bits:4096";
    else if (kind == "ed25519") args = "-algorithm ED25519";
    else throw std::runtime_error("unknown key kind " + kind);
    must_run("openssl genpkey " + args + " -out " + shell_quote(out.string()));
}

Bytes cli_spki_der(const std::filesystem::path& private_pem) {
    const std::filesystem::path out = private_pem.string() + ".spki.der";
    must_run("openssl pkey -in " + shell_quote(private_pem.string()) + " -pubout -outform DER -out " +
             shell_quote(out.string()));
    const std::string der = read_text(out);
    return Bytes(der.begin(), der.end());
}

std::string cli_key_id(const std::filesystem::path& pem, bool is_public, const std::string& tuf_keytype) {
    std::string der = "openssl pkey " + std::string(is_public ? "-pubin " : "") + "-in " + shell_quote(pem.string()) +
                      " -pubout -outform DER";
    // An Ed25519 SPKI is a 12-byte header followed by the raw 32-byte key.
    if (tuf_keytype == "ed25519") der += " | tail -c 32";
    std::string script = "pub=$(" + der + " | base64 -w0) && printf '{\"keytype\":\"" + tuf_keytype +
                         "\",\"keyval\":{\"private\":null,\"public\":\"%s\"}}' \"$pub\" | sha256sum | cut -c1-64";
    std::string out = must_run(script);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

void make_certificate(const std::filesystem::path& public_pem, const std::string& common_name,
                      const std::filesystem::path& out) {
    const std::filesystem::path issuer = out.string() + ".issuer.pem";
    generate_pem("ecdsa", issuer);
    std::string subject = "/CN=";
    for (char c : common_name) subject += c == '/' ? std::string("\\/") : std::string(1, c);
    must_run("openssl x509 -new -subj " + shell_quote(subject) + " -key " + shell_quote(issuer.string()) +
             " -force_pubkey " + shell_quote(public_pem.string()) + " -days 30 -out " + shell_quote(out.string()));
}

std::string cli_certificate_id(const std::filesystem::path& cert_pem, const std::string& x509_keytype) {
    std::string out = must_run("pub=$(base64 -w0 < " + shell_quote(cert_pem.string()) + ") && printf '{\"keytype\":\"" +
                               x509_keytype + "\",\"keyval\":{\"private\":null,\"public\":\"%s\"}}' \"$pub\" | "
                               "sha256sum | cut -c1-64");
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

} // namespace trustkey::test
