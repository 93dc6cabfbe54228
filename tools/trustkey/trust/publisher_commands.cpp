#include "tools/trustkey/trust/publisher_commands.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/client/release_signers.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/publish/key_records.h"
#include "tools/trust/publish/repository_init.h"
#include "tools/trust/publish/signer_key.h"
#include "tools/trust/publish/repository_publisher.h"
#include "tools/trust/publish/targets_update.h"
#include "tools/trust/registry/docker_config.h"
#include "tools/trust/tuf/key.h"
#include "tools/trust/tuf/role_name.h"
#include "tools/trustkey/key_types.h"
#include "tools/trustkey/pin_prompt.h"
#include "tools/trustkey/trust/public_key_file.h"
#include "tools/trustkey/trust/publisher_steps.h"
#include "tools/trustkey/trust/pull_repository.h"
#include "tools/trustkey/trust/tag_list.h"
#include "tools/trustkey/trust/trust_context.h"

namespace trustkey::tools::trust {

namespace pb = proto::pb;
using trustkey::trust::AgentSigner;
using trustkey::trust::RepositoryInitOptions;
using trustkey::trust::SignerKey;
using trustkey::trust::signer_agent_key;
using trustkey::trust::RepositoryPublisher;
using trustkey::trust::TargetsUpdate;

namespace {

const char* const kReleasesRole = "targets/releases";

Bytes parse_digest(const std::string& text) {
    const std::string prefix = "sha256:";
    if (text.rfind(prefix, 0) != 0 || text.size() != prefix.size() + 64)
        throw Failure::usage(fmt::format("--digest \"{}\": expected sha256:<64 hex digits>", text));
    auto raw = from_hex(text.substr(prefix.size()));
    if (!raw) throw Failure::usage(fmt::format("--digest \"{}\": expected sha256:<64 hex digits>", text));
    return *raw;
}

// The roles `tag` is signed into, as docker chooses them: every direct child delegation
// of targets whose paths allow the tag and whose keys the agent holds; targets itself
// when there are no delegations.
std::vector<std::string> signable_roles(TargetsUpdate& update, AgentSigner& signer, const std::string& tag) {
    const tuf::Targets& top = update.staged(std::string(tuf::kTargetsRole));
    if (top.delegations.roles.empty()) return {std::string(tuf::kTargetsRole)};
    std::vector<std::string> roles;
    std::string candidates;
    for (const tuf::DelegatedRole& role : top.delegations.roles) {
        if (!role.allows(tag)) continue;
        candidates += (candidates.empty() ? "" : ", ") + role.name;
        const tuf::KeyMap keys = role.keys.select(top.delegations.keys);
        if (std::any_of(keys.begin(), keys.end(), [&](const auto& k) { return signer.holds(k.second); }))
            roles.push_back(role.name);
    }
    if (roles.empty())
        throw Failure::failed(fmt::format("trustkeyd holds no key of a delegation of targets that may sign \"{}\" ({})",
                                          tag, candidates.empty() ? "none may" : candidates));
    return roles;
}

// Initializes the repository (its cache starts with what was published). When another
// writer initialized it first, the changes go into that repository.
void initialize(RepositoryPublisher& publisher, const std::string& repo, const RepositoryInitOptions& options = {}) {
    publisher.refuse_untrusted_init(options);
    std::cout << "Initializing signed repository for " << repo << "...\n";
    if (publisher.initialize(options)) std::cout << "Successfully initialized \"" << repo << "\"\n";
}

// The id of the agent key `ref` checked as a root key: trustkeyd must hold it and it must
// be ECDSA P-256 (root.json lists it in an ecdsa-x509 certificate).
std::string usable_root_key(const CommandContext& context, const std::string& ref) {
    const pb::KeyInfo info = context.with_client(RequestSubject::key(ref), [&](proto::Client& client) {
        return client.public_key(ref);
    });
    if (info.type() != pb::KEY_TYPE_ECDSA_P256)
        throw Failure::failed(fmt::format("--root-key \"{}\" (key {}) is an {} key: a root key must be ecdsa (P-256)",
                                          ref, info.id(), key_type_label(info.type())));
    return info.id();
}

// The user name docker's credentials give for `registry_host`, the name docker gives the
// signer it creates with a new repository; nullopt when none is configured.
std::optional<std::string> registry_user(const std::string& registry_host) {
    std::optional<registry::Credentials> creds;
    run_step(fmt::format("reading docker's credentials for {}", registry_host), [&] {
        creds = registry::DockerConfig::load_default().credentials_for(registry_host);
    });
    if (!creds || creds->username.empty()) return std::nullopt;
    return creds->username;
}

// The signer `sign` creates with a repository, as docker does: targets/<registry user>.
struct NewRepositorySigner {
    std::string name;
    std::optional<tuf::Key> key;  // absent: no registry user known, tags go into targets
};

// Initializes the repository of `target` for `sign`. With docker's credentials for the
// registry, the user's agent key (reused by name or generated) is returned for the
// signer targets/<user>; without them the repository gets no signer.
NewRepositorySigner initialize_for_signing(proto::Client& agent, RepositoryPublisher& publisher,
                                           const RepositoryTarget& target, const RepositoryInitOptions& init) {
    publisher.refuse_untrusted_init(init);
    const std::string& host = target.reference.registry;
    const std::optional<std::string> user = registry_user(host);
    if (!user) {
        std::cerr << "No credentials for " << host << " in docker's configuration: " << target.gun
                  << " gets no signer, tags are signed with its repository key (\"docker login " << host
                  << "\" first to get the signer targets/<user>)\n";
        initialize(publisher, target.gun, init);
        return {};
    }
    if (!valid_signer_name(*user))
        throw Failure::failed(fmt::format(
            "registry user \"{}\" (docker's credentials for {}) is not a valid signer name (^[a-z0-9][a-z0-9_-]*$): "
            "add a signer to {} with \"trustkey trust signer add\" first",
            *user, host, target.gun));
    const SignerKey key = signer_agent_key(agent, *user, init.backend);
    trustkey::trust::record_key_use(agent, key.agent_id, target.gun, "targets/" + *user);
    initialize(publisher, target.gun, init);
    return {*user, key.key};
}

// Asks on stdout and reads the answer from stdin, as docker does; only "y" or "Y" agrees.
bool confirm(const std::string& question) {
    std::cout << question << " [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer)) {
        std::cout << "\n";
        return false;
    }
    const auto first = answer.find_first_not_of(" \t\r");
    const auto last = answer.find_last_not_of(" \t\r");
    return first != std::string::npos && first == last && (answer[first] == 'y' || answer[first] == 'Y');
}

} // namespace

PublisherCommands::PublisherCommands(CLI::App& trust, CommandContext& context,
                                     std::shared_ptr<const TrustOptions> options)
    : m_context(context), m_options(std::move(options)) {
    auto* key = trust.add_subcommand("key", "Manage signer keys held by trustkeyd");
    key->require_subcommand(1);
    auto* gen = key->add_subcommand("generate", "Generate a signer key in trustkeyd and write NAME.pub");
    gen->add_option("NAME", m_name, "Signer name")->required();
    gen->add_option("--dir", m_dir, "Directory for NAME.pub")->capture_default_str();
    gen->add_option("--backend", m_backend, "trustkeyd backend to hold the key (default: the first)");
    gen->callback([this] { m_context.action = [this] { key_generate(); }; });

    auto* load = key->add_subcommand("load", "Import a private key PEM into trustkeyd");
    load->add_option("FILE", m_file, "Private key PEM (encrypted or not)")->required();
    load->add_option("--name", m_load_name, "Signer name")->capture_default_str();
    load->add_option("--backend", m_backend, "trustkeyd backend to hold the key (default: the first)");
    load->callback([this] { m_context.action = [this] { key_load(); }; });

    auto* rotate = key->add_subcommand("rotate", "Replace a repository's root, targets, snapshot or timestamp key");
    rotate->add_option("REPO", m_repo, "Repository")->required();
    rotate->add_option("ROLE", m_role, "root, targets, snapshot or timestamp")->required()->check(
        CLI::IsMember({"root", "targets", "snapshot", "timestamp"}));
    rotate->add_flag("--server-managed", m_server_managed, "Let the notary server hold the new key");
    rotate->add_option("--key", m_rotate_key, "Rotate to this trustkeyd key (id or name) instead of a new one");
    rotate->add_option("--backend", m_backend, "trustkeyd backend to hold the new key (default: the first)");
    rotate->add_option("--root-bundle", m_root_bundle,
                       "Publish the root.json of this bundle (trustkey-ceremony root rotate, then export) as the "
                       "new root");
    rotate->callback([this] { m_context.action = [this] {
        const http::InterruptWatch interrupt;
        key_rotate();
    }; });

    auto* prepare = key->add_subcommand(
        "prepare-root", "Write the online public keys an offline root ceremony signs into a new root.json");
    prepare->add_option("REPO", m_repo, "Repository")->required();
    prepare->add_option("--out", m_out, "New directory for targets.pub, snapshot/timestamp keys and online-keys.json")
        ->required();
    prepare->add_flag("--local-snapshot", m_local_snapshot,
                      "Keep the snapshot key in trustkeyd instead of on the notary server");
    prepare->add_option("--backend", m_backend, "trustkeyd backend to hold the keys it makes (default: the first)");
    prepare->callback([this] { m_context.action = [this] { key_prepare_root(); }; });

    auto* signer = trust.add_subcommand("signer", "Manage the signers of repositories");
    signer->require_subcommand(1);
    auto* add = signer->add_subcommand("add", "Add a signer to repositories");
    add->add_option("--key", m_keys, "Signer public key or certificate (PEM); repeat for more")
        ->required()
        ->allow_extra_args(false);
    add->add_option("NAME", m_name, "Signer name")->required();
    add->add_option("REPO", m_repos, "Repositories")->required();
    add->add_option("--root-key", m_root_key,
                    "trustkeyd key (id, id prefix or name; ECDSA P-256) to use as root key when a repository "
                    "is initialized");
    add->add_flag("--force-init", m_force_init,
                  "Initialize a repository the server has no trust data for even when this trust directory "
                  "trusts it (replaces the cached trust data)");
    add->add_option("--backend", m_backend,
                    "trustkeyd backend to hold the root and targets keys of a repository it initializes "
                    "(default: the first)");
    add->add_option("--root-bundle", m_root_bundle,
                    "Initialize the repository with the root.json of this offline ceremony bundle "
                    "(trustkey-ceremony export)")
        ->excludes("--root-key");
    add->callback([this] { m_context.action = [this] {
        const http::InterruptWatch interrupt;
        signer_add();
    }; });
    auto* remove = signer->add_subcommand("remove", "Remove a signer from repositories");
    remove->add_option("NAME", m_name, "Signer name")->required();
    remove->add_option("REPO", m_repos, "Repositories")->required();
    remove->add_flag("--force,-f", m_force,
                     "Do not prompt for confirmation before removing the most recent signer");
    remove->callback([this] { m_context.action = [this] { signer_remove(); }; });

    auto* sign = trust.add_subcommand("sign", "Sign image tags");
    sign->add_option("IMAGE", m_repos, "REPO:TAG to sign");
    sign->add_option("--digest", m_digest,
                     "Manifest digest (sha256:HEX) of the tags named without one, instead of asking the registry");
    sign->add_option("--size", m_size, "Manifest size in bytes (with --digest)")->check(CLI::NonNegativeNumber);
    sign->add_option("--manifest", m_manifest, "Manifest file whose SHA-256 and size are signed");
    sign->add_option("--from-file", m_from_file,
                     "File listing tags to sign, one \"REPO:TAG [sha256:HEX SIZE]\" a line (\"-\": stdin)");
    sign->add_option("--backend", m_backend,
                     "trustkeyd backend to hold the keys made when a repository is initialized (default: the first)");
    sign->add_option("--root-bundle", m_root_bundle,
                     "Initialize a new repository with the root.json of this offline ceremony bundle "
                     "(trustkey-ceremony export)");
    sign->add_flag("--force-init", m_force_init,
                   "Initialize a repository the server has no trust data for even when this trust directory "
                   "trusts it (replaces the cached trust data)");
    sign->callback([this] { m_context.action = [this] { this->sign(); }; });

    auto* revoke = trust.add_subcommand("revoke", "Remove trust for an image tag or a whole repository");
    revoke->add_option("IMAGE", m_repo, "REPO[:TAG]")->required();
    revoke->add_flag("-y,--yes", m_yes, "Do not prompt for confirmation");
    revoke->callback([this] { m_context.action = [this] { this->revoke(); }; });
}

void PublisherCommands::signer_add() const {
    if (!valid_signer_name(m_name))
        throw Failure::usage(fmt::format("signer name \"{}\" must match ^[a-z0-9][a-z0-9_-]*$", m_name));
    if (m_name == "releases") throw Failure::usage("\"releases\" is reserved and cannot be a signer name");
    std::vector<tuf::Key> keys;
    for (const auto& file : m_keys) keys.push_back(read_public_key(file));
    std::vector<RepositoryTarget> targets;
    for (const auto& repo : m_repos) targets.push_back(parse_repository(repo));
    RepositoryInitOptions init;
    init.backend = m_backend;
    init.replace_trusted = m_force_init;
    if (!m_root_key.empty()) init.root_key = usable_root_key(m_context, m_root_key);
    proto::Client agent = m_context.connect();
    for (std::size_t i = 0; i < targets.size(); ++i) {
        const auto& target = targets[i];
        notary::NotaryClient server = notary_client(*m_options, target);
        std::cout << "Adding signer \"" << m_name << "\" to " << m_repos[i] << "...\n";
        bool existed = true;
        run_step(fmt::format("adding signer \"{}\" to {} at {}", m_name, target.gun, server.base_url()), [&] {
            RepositoryPublisher publisher(agent, server, trust_dir(*m_options));
            if (!publisher.exists()) {
                existed = false;
                initialize(publisher, m_repos[i], with_root_bundle(agent, server, init));
            }
            publisher.publish([&](TargetsUpdate& update) { update.add_signer(m_name, keys); });
        });
        trustkey::trust::record_held_keys(agent, keys, target.gun, "targets/" + m_name);
        if (existed && !m_root_key.empty())
            std::cerr << "--root-key " << m_root_key << " not used: " << m_repos[i]
                      << " was initialized already (its root key stays)\n";
        if (existed && !m_root_bundle.empty())
            std::cerr << "--root-bundle " << m_root_bundle << " not used: " << m_repos[i]
                      << " was initialized already (\"trustkey trust key rotate " << m_repos[i]
                      << " root --root-bundle DIR\" publishes a root rotated offline)\n";
        std::cout << "Successfully added signer: " << m_name << " to " << m_repos[i] << "\n";
    }
}

void PublisherCommands::signer_remove() const {
    std::vector<RepositoryTarget> targets;
    for (const auto& repo : m_repos) targets.push_back(parse_repository(repo));
    if (m_name == "releases") throw Failure::usage("\"releases\" is reserved and cannot be removed");
    proto::Client agent = m_context.connect();
    std::vector<std::string> kept;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        notary::NotaryClient server = notary_client(*m_options, targets[i]);
        std::cout << "Removing signer \"" << m_name << "\" from " << m_repos[i] << "...\n";
        if (!m_force && !removal_confirmed(targets[i], m_repos[i])) {
            kept.push_back(m_repos[i]);
            continue;
        }
        run_step(fmt::format("removing signer \"{}\" from {} at {}", m_name, targets[i].gun, server.base_url()), [&] {
            RepositoryPublisher publisher(agent, server, trust_dir(*m_options));
            publisher.publish([&](TargetsUpdate& update) {
                update.remove_signer(m_name);
            });
        });
        std::cout << "Successfully removed " << m_name << " from " << m_repos[i] << "\n";
    }
    if (!kept.empty()) {
        std::string list;
        for (const auto& repo : kept) list += (list.empty() ? "" : ", ") + repo;
        throw Failure::failed(fmt::format("signer \"{}\" not removed from {}: not confirmed (--force removes it "
                                          "without asking)",
                                          m_name, list));
    }
}

RepositoryInitOptions PublisherCommands::with_root_bundle(proto::Client& agent, notary::NotaryClient& server,
                                                         RepositoryInitOptions init) const {
    if (m_root_bundle.empty()) return init;
    init.signed_root = load_root_bundle(m_root_bundle, server.gun()).root_bytes;
    // Before any key is made or anything uploaded: the online keys it lists must be ours or the server's.
    (void)trustkey::trust::RepositoryInit(agent, server).check_signed_root(init.signed_root);
    return init;
}

bool PublisherCommands::removal_confirmed(const RepositoryTarget& target, const std::string& repo) const {
    const ::trustkey::trust::TrustData data = pull_repository(*m_options, target);
    if (!::trustkey::trust::removal_leaves_releases_unsigned(data, "targets/" + m_name)) return true;
    return confirm(fmt::format("The signer \"{}\" signed the last released version of {}. Removing this signer "
                               "will make {} unpullable. Are you sure you want to continue?",
                               m_name, repo, repo));
}

void PublisherCommands::sign() const {
    if (m_digest.empty() != (m_size < 0)) throw Failure::usage("--digest and --size go together");
    std::optional<Bytes> given_digest;
    std::int64_t given_size = m_size;
    if (!m_digest.empty()) given_digest = parse_digest(m_digest);
    if (!m_manifest.empty()) {
        if (given_digest) throw Failure::usage("--manifest and --digest/--size exclude each other");
        std::ifstream in(m_manifest, std::ios::binary);
        if (!in) throw Failure::failed(fmt::format("cannot open {}", m_manifest));
        const std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (in.bad()) throw Failure::failed(fmt::format("cannot read {}", m_manifest));
        given_digest = sha256(as_bytes(manifest));
        given_size = static_cast<std::int64_t>(manifest.size());
    }
    // Arguments first, then the list's lines; a tag without its own digest takes
    // --digest/--manifest or is resolved in the registry.
    std::vector<TagListEntry> requested;
    for (const auto& text : m_repos) {
        TagListEntry entry;
        entry.target = parse_repository(text);
        if (!entry.target.tag_given) throw Failure::usage(fmt::format("\"{}\": sign needs REPO:TAG", text));
        requested.push_back(std::move(entry));
    }
    if (!m_from_file.empty()) {
        std::vector<TagListEntry> listed = read_tag_list(m_from_file);
        if (listed.empty() && requested.empty())
            throw Failure::usage(fmt::format("{} lists no tags to sign", m_from_file == "-" ? "<stdin>" : m_from_file));
        std::move(listed.begin(), listed.end(), std::back_inserter(requested));
    }
    if (requested.empty()) throw Failure::usage("sign needs REPO:TAG arguments or --from-file");
    // From here on (the tag list is read), Ctrl-C stops the network work and is reported.
    const http::InterruptWatch interrupt;
    // One publish per repository, in the order first named.
    std::vector<std::string> guns;
    std::map<std::string, std::vector<TagListEntry>> by_gun;
    for (auto& entry : requested) {
        if (!by_gun.contains(entry.target.gun)) guns.push_back(entry.target.gun);
        by_gun[entry.target.gun].push_back(std::move(entry));
    }
    const bool terminal = ::isatty(STDOUT_FILENO) == 1;
    RepositoryInitOptions init;
    init.backend = m_backend;
    init.replace_trusted = m_force_init;
    proto::Client agent = m_context.connect();
    // One registry client for every tag, so answered challenges (tokens) are reused.
    std::optional<registry::RegistryClient> registry;
    for (const auto& gun : guns) {
        const auto& tags = by_gun.at(gun);
        struct Entry {
            std::string tag;
            Bytes digest;
            std::int64_t size;
        };
        std::vector<Entry> entries;
        for (const auto& item : tags) {
            const RepositoryTarget& target = item.target;
            if (item.digest) {
                entries.push_back({target.reference.tag, *item.digest, item.size});
                continue;
            }
            if (given_digest) {
                entries.push_back({target.reference.tag, *given_digest, given_size});
                continue;
            }
            // A tag from a --from-file line is named by its FILE:LINE too.
            const std::string where = item.where.empty() ? std::string() : item.where + ": ";
            run_step(fmt::format("{}resolving {} in the registry", where, target.reference.str()), [&] {
                if (!registry) registry.emplace(registry_client(*m_options));
                const registry::ManifestInfo manifest = registry->resolve(target.reference);
                entries.push_back({target.reference.tag, parse_digest(manifest.digest),
                                   static_cast<std::int64_t>(manifest.size)});
            });
        }
        const RepositoryTarget& first = tags.front().target;
        notary::NotaryClient server = notary_client(*m_options, first);
        if (terminal)
            for (const auto& item : tags)
                std::cout << "Signing and pushing trust metadata for " << item.target.reference.str() << "\n";
        std::optional<NewRepositorySigner> created;
        run_step(fmt::format("signing {} at {}", gun, server.base_url()), [&] {
            RepositoryPublisher publisher(agent, server, trust_dir(*m_options));
            if (!publisher.exists())
                created = initialize_for_signing(agent, publisher, first, with_root_bundle(agent, server, init));
            publisher.publish([&](TargetsUpdate& update) {
                if (created && created->key) update.add_signer(created->name, {*created->key});
                AgentSigner signer(agent);
                for (const Entry& entry : entries)
                    for (const std::string& role : signable_roles(update, signer, entry.tag))
                        update.add_target(role, entry.tag, entry.digest, entry.size);
            });
        });
        if (!created && !m_root_bundle.empty())
            std::cerr << "--root-bundle " << m_root_bundle << " not used: " << gun << " was initialized already\n";
        if (created && created->key) {
            std::cout << "Created signer: " << created->name << "\n";
            std::cout << "Finished initializing signed repository for " << first.reference.str() << "\n";
        }
        for (const auto& item : tags) std::cout << "Successfully signed " << item.target.reference.str() << "\n";
    }
}

void PublisherCommands::revoke() const {
    const RepositoryTarget target = parse_repository(m_repo);
    // As docker: every signature of the repository goes only when the user agrees.
    if (!target.tag_given && !m_yes &&
        !confirm(fmt::format("Confirm you would like to delete all signature data for {}?", m_repo))) {
        std::cout << "\nAborting action.\n";
        return;
    }
    const http::InterruptWatch interrupt;
    proto::Client agent = m_context.connect();
    notary::NotaryClient server = notary_client(*m_options, target);
    run_step(fmt::format("revoking {} at {}", m_repo, server.base_url()), [&] {
        RepositoryPublisher publisher(agent, server, trust_dir(*m_options));
        publisher.publish([&](TargetsUpdate& update) {
            AgentSigner signer(agent);
            std::vector<std::string> tags;
            if (target.tag_given) {
                tags.push_back(target.reference.tag);
            } else {
                const tuf::Targets& top = update.staged(std::string(tuf::kTargetsRole));
                const bool delegated = top.delegations.find(kReleasesRole) != nullptr;
                const tuf::Targets& released =
                    update.staged(delegated ? kReleasesRole : std::string(tuf::kTargetsRole));
                for (const auto& [name, meta] : released.targets) tags.push_back(name);
            }
            if (tags.empty()) throw Failure::failed(fmt::format("{} has no signed tags to revoke", target.gun));
            bool removed = false;
            for (const std::string& tag : tags)
                for (const std::string& role : signable_roles(update, signer, tag))
                    if (update.staged(role).targets.contains(tag)) {
                        update.remove_target(role, tag);
                        removed = true;
                    }
            if (!removed)
                throw Failure::failed(fmt::format("no role trustkeyd can sign for holds \"{}\" in {}",
                                                  target.reference.tag, target.gun));
        });
    });
    std::cout << "Successfully deleted signature for " << m_repo << "\n";
}

} // namespace trustkey::tools::trust
