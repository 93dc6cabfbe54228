// `trustkey trust key generate | load | rotate`: signer keys made in or imported into
// trustkeyd, and a repository's role keys replaced.
#include "tools/trustkey/trust/publisher_commands.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "lib/core/encoding.h"
#include "tools/trust/publish/key_records.h"
#include "tools/trustkey/pin_prompt.h"
#include "tools/trustkey/trust/key_rotation.h"
#include "tools/trustkey/trust/publisher_steps.h"
#include "tools/trustkey/trust/trust_context.h"

namespace trustkey::tools::trust {

namespace pb = proto::pb;

namespace {

constexpr std::size_t kPemLine = 64;

// PUBLIC KEY PEM with a "role: NAME" header, as docker writes NAME.pub.
std::string public_pem_with_role(const std::string& spki_der, const std::string& role) {
    const std::string b64 = to_base64(as_bytes(spki_der));
    std::string pem = "-----BEGIN PUBLIC KEY-----\nrole: " + role + "\n\n";
    for (std::size_t i = 0; i < b64.size(); i += kPemLine) pem += b64.substr(i, kPemLine) + "\n";
    pem += "-----END PUBLIC KEY-----\n";
    return pem;
}

} // namespace

void PublisherCommands::key_generate() const {
    if (!valid_signer_name(m_name))
        throw Failure::usage(fmt::format("signer name \"{}\" must match ^[a-z0-9][a-z0-9_-]*$", m_name));
    // As docker: the directory is checked before a key is made, so a bad --dir makes nothing.
    std::error_code ec;
    const auto dir_status = std::filesystem::status(m_dir, ec);
    if (!std::filesystem::exists(dir_status))
        throw Failure::failed(fmt::format("public key directory \"{}\" does not exist", m_dir));
    if (!std::filesystem::is_directory(dir_status))
        throw Failure::failed(fmt::format("public key directory \"{}\" is not a directory", m_dir));
    if (::access(m_dir.c_str(), W_OK | X_OK) != 0)
        throw Failure::failed(fmt::format("public key directory \"{}\" is not writable", m_dir));
    const std::filesystem::path path = (std::filesystem::absolute(m_dir, ec) / (m_name + ".pub")).lexically_normal();
    if (std::filesystem::exists(path, ec)) throw Failure::failed(fmt::format("{} already exists", path.string()));
    std::cout << "Generating key for " << m_name << "...\n";
    const pb::KeyInfo info = m_context.with_client(RequestSubject::key({}, m_backend), [&](proto::Client& client) {
        const pb::KeyInfo key = client.generate_key(m_name, pb::KEY_TYPE_ECDSA_P256, m_backend);
        trustkey::trust::record_key_use(client, key.id(), {}, "targets/" + m_name);
        return key;
    });
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << public_pem_with_role(info.public_key(), m_name);
    out.close();
    if (!out)
        throw Failure::failed(fmt::format("cannot write {} (the key {} is in trustkeyd)", path.string(), info.id()));
    std::cout << "Successfully generated and loaded private key. Corresponding public key available: "
              << path.string() << "\n";
}

void PublisherCommands::key_load() const {
    if (!valid_signer_name(m_load_name))
        throw Failure::usage(fmt::format("signer name \"{}\" must match ^[a-z0-9][a-z0-9_-]*$", m_load_name));
    std::error_code ec;
    const auto status = std::filesystem::status(m_file, ec);
    if (ec || !std::filesystem::is_regular_file(status)) throw Failure::failed(fmt::format("cannot open {}", m_file));
    using std::filesystem::perms;
    if ((status.permissions() & (perms::group_all | perms::others_all)) != perms::none)
        throw Failure::failed(
            fmt::format("private key file {} must not be readable or writable by others (chmod 600)", m_file));
    std::cout << "Loading key from \"" << m_file << "\"...\n";
    std::ifstream in(m_file, std::ios::binary);
    SecureBytes pem;
    pem.reserve(kMaxKeyFile + 1);
    for (char c = 0; in.get(c);) {
        if (pem.size() >= kMaxKeyFile) throw Failure::failed(fmt::format("{} is too large for a key file", m_file));
        pem.push_back(static_cast<std::uint8_t>(c));
    }
    if (in.bad()) throw Failure::failed(fmt::format("cannot read {}", m_file));
    const std::string_view text = as_string_view(pem);
    SecureBytes passphrase;
    if (text.find("ENCRYPTED") != std::string_view::npos) {
        if (auto env = secret_from_env({"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"}))
            passphrase = std::move(*env);
        else
            passphrase = read_secret(
                fmt::format("Enter passphrase for {}: ", m_file),
                fmt::format("{} is encrypted and there is no terminal to ask for its passphrase: set "
                            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE, or give it on standard input",
                            m_file));
    }
    const pb::KeyInfo info =
        m_context.with_client(RequestSubject::key({}, m_backend, m_file), [&](proto::Client& client) {
            const pb::KeyInfo key = client.import_key(m_load_name, text, as_string_view(passphrase), m_backend);
            trustkey::trust::record_key_use(client, key.id(), {}, "targets/" + m_load_name);
            return key;
        });
    std::cout << "Successfully imported key from " << m_file << " (key " << info.id() << " in trustkeyd)\n";
    if (stdin_is_terminal() && ask_yes_no(fmt::format("Remove {} now that trustkeyd holds the key? [y/N] ", m_file))) {
        if (!std::filesystem::remove(m_file, ec) || ec)
            throw Failure::failed(fmt::format("the key is in trustkeyd, but {} could not be removed", m_file));
        std::cout << "Removed " << m_file << "\n";
    }
}

void PublisherCommands::key_rotate() const {
    const RepositoryTarget target = parse_repository(m_repo);
    if (target.tag_given) throw Failure::usage(fmt::format("\"{}\": key rotate takes a repository, not a tag", m_repo));
    if (!m_root_bundle.empty()) return key_rotate_from_bundle(target);
    proto::Client agent = m_context.connect();
    notary::NotaryClient server = notary_client(*m_options, target);
    std::optional<RotationResult> result;
    run_step(fmt::format("rotating the {} key of {} at {}", m_role, target.gun, server.base_url()), [&] {
        result = rotate_role_key(agent, server, RotationRequest{m_role, m_server_managed, m_rotate_key, m_backend});
    });
    std::cout << "Successfully rotated " << m_role << " key for repository " << m_repo << " (new key "
              << result->key.id() << ")\n";
    for (const std::string& old : result->old_root_keys)
        std::cout << "The previous root key " << old << " stays in trustkeyd; once no repository needs it: "
                  << "trustkey key delete " << old << "\n";
}

void PublisherCommands::key_rotate_from_bundle(const RepositoryTarget& target) const {
    if (m_role != "root")
        throw Failure::usage(fmt::format("--root-bundle holds a new root.json: it rotates root, not {}", m_role));
    if (m_server_managed || !m_rotate_key.empty() || !m_backend.empty())
        throw Failure::usage("--root-bundle cannot go with --server-managed, --key or --backend: the root keys "
                             "are offline");
    const trustkey::trust::RootBundle bundle = load_root_bundle(m_root_bundle, target.gun);
    proto::Client agent = m_context.connect();
    notary::NotaryClient server = notary_client(*m_options, target);
    std::optional<BundleRotationResult> result;
    run_step(fmt::format("rotating the root key of {} at {}", target.gun, server.base_url()), [&] {
        result = rotate_root_from_bundle(agent, server, trust_dir(*m_options), bundle);
    });
    std::string ids;
    for (const std::string& id : result->root_key_ids) ids += (ids.empty() ? "" : ", ") + id;
    std::cout << "Successfully rotated root key for repository " << m_repo << " (root.json version "
              << result->version << " from " << m_root_bundle << ", root keys " << ids << ")\n";
}

} // namespace trustkey::tools::trust
