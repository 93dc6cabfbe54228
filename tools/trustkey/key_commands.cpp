#include "tools/trustkey/key_commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

#include "lib/core/secure_bytes.h"
#include "tools/trustkey/key_types.h"
#include "tools/trustkey/output.h"
#include "tools/trustkey/pin_prompt.h"

namespace trustkey::tools {

namespace pb = proto::pb;

namespace {

constexpr std::size_t kMaxKeyFileSize = 64 * 1024;

// Reads a key file into wiped memory (it holds a private key).
SecureBytes read_key_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure::failed(fmt::format("cannot open {}", path));
    SecureBytes data;
    data.reserve(kMaxKeyFileSize + 1);
    char c = 0;
    while (in.get(c)) {
        if (data.size() >= kMaxKeyFileSize)
            throw Failure::failed(fmt::format("{} is larger than {} bytes: not a key file", path, kMaxKeyFileSize));
        data.push_back(static_cast<std::uint8_t>(c));
    }
    if (in.bad()) throw Failure::failed(fmt::format("cannot read {}", path));
    return data;
}

// PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional PEM with a "Proc-Type: 4,ENCRYPTED" header.
bool is_encrypted_pem(std::string_view pem) {
    return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
           pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

void write_stdout(std::string_view bytes) {
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::cout.flush();
    if (!std::cout) throw Failure::failed("cannot write to standard output");
}

} // namespace

KeyCommands::KeyCommands(CLI::App& app, CommandContext& context) : m_context(context) {
    auto* key = app.add_subcommand("key", "Manage keys held by trustkeyd");
    key->require_subcommand(1);

    auto* list = key->add_subcommand("list", "List keys");
    list->add_flag("--json", m_json, "Print a JSON array instead of a table");
    list->callback([this] { m_context.action = [this] { this->list(); }; });

    auto* gen = key->add_subcommand("generate", "Generate a key on a token and print its id");
    gen->add_option("NAME", m_name, "Key name (unique on its token)")->required();
    gen->add_option("--type", m_type, "Key type")
        ->check(CLI::IsMember({"ecdsa", "rsa", "rsa4096", "ed25519"}))
        ->capture_default_str();
    gen->add_option("--backend", m_backend, "Token to hold the key (default: the first)");
    gen->add_flag("--auth", m_auth,
                  "Give the key its own authorization value (TPM; from $TRUSTKEY_KEY_AUTH or asked for); "
                  "use it later with: trustkey login --key NAME");
    gen->callback([this] { m_context.action = [this] { generate(); }; });

    auto* load = key->add_subcommand("load", "Put a PEM private key on a token and print its id");
    load->add_option("FILE", m_file, "PEM private key (PKCS#8, encrypted PKCS#8, SEC1 or PKCS#1)")->required();
    load->add_option("--name", m_name, "Key name (unique on its token)")->required();
    load->add_option("--backend", m_backend, "Token to hold the key (default: the first)");
    load->add_flag("--auth", m_auth, "Give the key its own authorization value (as for generate)");
    load->callback([this] { m_context.action = [this] { this->load(); }; });

    auto* pub = key->add_subcommand("public", "Print a key's public key");
    pub->add_option("KEY", m_key, "Key id, id prefix (7+ hex digits) or name")->required();
    pub->add_option("--format", m_format, "Output form")
        ->check(CLI::IsMember({"pem", "der", "tuf"}))
        ->capture_default_str();
    pub->callback([this] { m_context.action = [this] { show_public(); }; });

    auto* del = key->add_subcommand("delete", "Delete a key from its token");
    del->add_option("KEY", m_key, "Key id, id prefix (7+ hex digits) or name")->required();
    del->add_flag("--yes,-y", m_yes, "Do not ask for confirmation");
    del->callback([this] { m_context.action = [this] { remove(); }; });
}

void KeyCommands::list() const {
    const auto reply = m_context.with_client({}, [](proto::Client& c) { return c.list_keys_reply(); });
    const std::vector<pb::KeyInfo> keys(reply.keys().begin(), reply.keys().end());
    // A token that could not be read is never shown as a token without keys: what was read
    // is printed, then one line per unreadable token, and the exit code is 1.
    if (reply.unreadable().empty() || !keys.empty()) {
        if (m_json) {
            nlohmann::json out = nlohmann::json::array();
            for (const auto& k : keys) out.push_back(key_json(k));
            write_stdout(dump_json(out));
        } else {
            write_stdout(key_table(keys));
        }
    }
    std::vector<std::string> lines;
    for (const auto& u : reply.unreadable()) {
        const proto::ClientError e(proto::ClientError::Kind::status, u.status(), u.message(), {}, u.pin(), u.backend());
        const Failure why = Failure::from_client_error(e, RequestSubject::key({}, u.backend()), m_context.socket_path);
        lines.push_back(fmt::format("cannot list the keys of token '{}': {}", u.backend(), why.what()));
    }
    if (lines.empty()) return;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) std::cerr << "trustkey: " << lines[i] << '\n';
    throw Failure::failed(lines.back());
}

namespace {

// A new key's own authorization value: $TRUSTKEY_KEY_AUTH, else asked for twice.
SecureBytes new_key_auth(const std::string& name) {
    SecureBytes auth;
    if (auto env = secret_from_env({"TRUSTKEY_KEY_AUTH"})) {
        auth = std::move(*env);
    } else {
        auth = read_secret(fmt::format("Authorization value for key '{}': ", name));
        const SecureBytes again = read_secret(fmt::format("Repeat the authorization value for key '{}': ", name));
        if (again != auth) throw Failure::failed(fmt::format("the two authorization values for key '{}' differ", name));
    }
    if (auth.empty()) throw Failure::failed(fmt::format("empty authorization value for key '{}'", name));
    return auth;
}

} // namespace

void KeyCommands::generate() const {
    const auto type = parse_key_type_label(m_type);
    if (!type) throw Failure::usage(fmt::format("unknown key type '{}'", m_type));
    const SecureBytes auth = m_auth ? new_key_auth(m_name) : SecureBytes();
    const auto key = m_context.with_client(RequestSubject::key({}, m_backend), [&](proto::Client& c) {
        return c.generate_key(m_name, *type, m_backend, as_string_view(auth));
    });
    write_stdout(key.id() + '\n');
}

void KeyCommands::load() const {
    const SecureBytes pem = read_key_file(m_file);
    const SecureBytes auth = m_auth ? new_key_auth(m_name) : SecureBytes();
    SecureBytes passphrase;
    if (is_encrypted_pem(as_string_view(pem))) {
        if (auto env = secret_from_env({"TRUSTKEY_KEY_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"}))
            passphrase = std::move(*env);
        else
            passphrase = read_secret(
                fmt::format("Enter passphrase for {}: ", m_file),
                fmt::format("{} is encrypted and there is no terminal to ask for its passphrase: set "
                            "TRUSTKEY_KEY_PASSPHRASE (or DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE), or give it on "
                            "standard input",
                            m_file));
    }
    const auto key = m_context.with_client(
        RequestSubject::key({}, m_backend, m_file), [&](proto::Client& c) {
            return c.import_key(m_name, as_string_view(pem), as_string_view(passphrase), m_backend,
                                as_string_view(auth));
        });
    write_stdout(key.id() + '\n');
}

void KeyCommands::show_public() const {
    const auto key = m_context.with_client(RequestSubject::key(m_key),
                                           [&](proto::Client& c) { return c.public_key(m_key); });
    if (m_format == "der")
        write_stdout(key.public_key());
    else if (m_format == "tuf")
        write_stdout(tuf_key_json(key) + '\n');
    else
        write_stdout(public_key_pem(key));
}

void KeyCommands::remove() const {
    std::string target = m_key;
    if (!m_yes) {
        if (!stdin_is_terminal())
            throw Failure::usage("refusing to delete a key without --yes when standard input is not a terminal");
        const auto key = m_context.with_client(RequestSubject::key(m_key),
                                               [&](proto::Client& c) { return c.public_key(m_key); });
        const std::string question =
            fmt::format("Delete key {} '{}' ({}) from token '{}'? This cannot be undone. [y/N] ", key.id(),
                        key.name(), key_type_label(key.type()), key.backend());
        if (!ask_yes_no(question)) throw Failure::failed("key not deleted");
        target = key.id();  // delete exactly the key that was shown
    }
    m_context.with_client(RequestSubject::key(m_key), [&](proto::Client& c) { c.delete_key(target); });
    write_stdout(fmt::format("deleted {}\n", m_key));
}

} // namespace trustkey::tools
