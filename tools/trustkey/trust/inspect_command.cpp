#include "tools/trustkey/trust/inspect_command.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <utility>

#include "tools/trust/tuf/role_name.h"
#include "tools/trustkey/output.h"
#include "tools/trustkey/trust/pull_repository.h"

namespace trustkey::tools::trust {

namespace {

using ::trustkey::trust::TrustData;

constexpr std::string_view kReleasesRole = "targets/releases";
constexpr std::string_view kDelegationPrefix = "targets/";
constexpr const char* kRepoAdmin = "Repo Admin";

bool is_released_role(std::string_view role) { return role == tuf::kTargetsRole || role == kReleasesRole; }

std::string signer_name(std::string_view role) {
    if (role.starts_with(kDelegationPrefix)) role.remove_prefix(kDelegationPrefix.size());
    return std::string(role);
}

// Every role holding targets in the order a client walks them: "targets", then each
// verified delegation breadth first, in the order its parent lists it.
std::vector<std::string> target_roles(const TrustData& data) {
    std::vector<std::string> roles{std::string(tuf::kTargetsRole)};
    for (std::size_t i = 0; i < roles.size(); ++i) {  // grows only by unseen delegations
        const tuf::Targets* file =
            i == 0 ? &data.targets : &data.delegations.find(roles[i])->second;
        for (const auto& role : file->delegations.roles)
            if (data.delegations.contains(role.name) &&
                std::find(roles.begin(), roles.end(), role.name) == roles.end())
                roles.push_back(role.name);
    }
    return roles;
}

const tuf::Targets* targets_file(const TrustData& data, const std::string& role) {
    if (role == tuf::kTargetsRole) return &data.targets;
    auto it = data.delegations.find(role);
    return it == data.delegations.end() ? nullptr : &it->second;
}

// Docker's tables: each column but the last padded to max(widest + 3, 10).
std::string docker_table(const std::vector<std::vector<std::string>>& rows) {
    constexpr std::size_t kMinWidth = 10;
    constexpr std::size_t kPadding = 3;
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        if (widths.size() < row.size()) widths.resize(row.size(), 0);
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    std::string out;
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            out += row[i];
            if (i + 1 < row.size()) out.append(std::max(widths[i] + kPadding, kMinWidth) - row[i].size(), ' ');
        }
        out += '\n';
    }
    return out;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

// Control characters in names from the server are shown as '?'.
std::string printable(std::string text) {
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return text;
}

} // namespace

TrustReport TrustReport::build(const TrustData& data, std::string name, const std::string& tag) {
    TrustReport report;
    report.name = std::move(name);

    // (tag, digest) -> signers; first the released pairs, then the other roles holding them.
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> released;
    const auto roles = target_roles(data);
    for (const auto& role : roles) {
        if (!is_released_role(role)) continue;
        const tuf::Targets* file = targets_file(data, role);
        for (const auto& [target, meta] : file->targets) {
            if (!tag.empty() && target != tag) continue;
            if (auto info = data.find_in(role, target)) released.try_emplace({target, info->sha256_hex});
        }
    }
    for (const auto& role : roles) {
        if (is_released_role(role)) continue;
        const tuf::Targets* file = targets_file(data, role);
        for (const auto& [target, meta] : file->targets) {
            auto info = data.find_in(role, target);
            if (!info) continue;
            auto row = released.find({target, info->sha256_hex});
            if (row != released.end()) row->second.push_back(signer_name(role));
        }
    }
    for (auto& [key, signers] : released) {
        if (signers.empty()) signers.emplace_back(kRepoAdmin);
        report.signed_tags.push_back({key.first, key.second, std::move(signers)});
    }

    // Delegations, as their parents delegate them, with canonical key ids.
    std::vector<std::pair<std::string, const tuf::Targets*>> parents{{std::string(tuf::kTargetsRole), &data.targets}};
    for (const auto& [role, file] : data.delegations) parents.emplace_back(role, &file);
    for (const auto& [parent, file] : parents) {
        for (const auto& role : file->delegations.roles) {
            if (role.name == kReleasesRole) continue;
            SignerKeys signer{signer_name(role.name), {}};
            for (const auto& id : role.keys.keyids) {
                auto key = file->delegations.keys.find(id);
                signer.key_ids.push_back(key == file->delegations.keys.end() ? id : key->second.canonical_id());
            }
            report.signers.push_back(std::move(signer));
        }
    }
    std::sort(report.signers.begin(), report.signers.end(),
              [](const SignerKeys& a, const SignerKeys& b) { return a.name > b.name; });

    report.root_key_ids = data.root.role(tuf::kRootRole).keyids;
    report.repository_key_ids = data.root.role(tuf::kTargetsRole).keyids;
    return report;
}

nlohmann::ordered_json TrustReport::to_json() const {
    auto key_list = [](const std::vector<std::string>& ids) {
        nlohmann::ordered_json keys = nlohmann::ordered_json::array();
        for (const auto& id : ids) keys.push_back({{"ID", id}});
        return keys;
    };
    nlohmann::ordered_json tags = nlohmann::ordered_json::array();
    for (const auto& row : signed_tags)
        tags.push_back({{"SignedTag", row.tag}, {"Digest", row.digest_hex}, {"Signers", row.signers}});
    nlohmann::ordered_json signer_list = nlohmann::ordered_json::array();
    for (const auto& signer : signers) signer_list.push_back({{"Name", signer.name}, {"Keys", key_list(signer.key_ids)}});
    nlohmann::ordered_json admin = nlohmann::ordered_json::array();
    admin.push_back({{"Name", "Root"}, {"Keys", key_list(root_key_ids)}});
    admin.push_back({{"Name", "Repository"}, {"Keys", key_list(repository_key_ids)}});
    nlohmann::ordered_json out;
    out["Name"] = name;
    out["SignedTags"] = std::move(tags);
    out["Signers"] = std::move(signer_list);
    out["AdministrativeKeys"] = std::move(admin);
    return out;
}

std::string TrustReport::pretty() const {
    std::string out;
    if (signed_tags.empty()) {
        out += "\nNo signatures for " + printable(name) + "\n\n";
    } else {
        out += "\nSignatures for " + printable(name) + "\n\n";
        std::vector<std::vector<std::string>> rows{{"SIGNED TAG", "DIGEST", "SIGNERS"}};
        for (const auto& row : signed_tags) {
            std::vector<std::string> names = row.signers;
            if (names.size() == 1 && names.front() == kRepoAdmin) names.front() = std::string("(") + kRepoAdmin + ")";
            rows.push_back({printable(row.tag), row.digest_hex, printable(join(names, ", "))});
        }
        out += docker_table(rows);
    }
    if (!signers.empty()) {
        out += "\nList of signers and their keys for " + printable(name) + "\n\n";
        std::vector<std::vector<std::string>> rows{{"SIGNER", "KEYS"}};
        // This table is in ascending order (the JSON list is descending).
        for (const auto& signer : std::vector<SignerKeys>(signers.rbegin(), signers.rend())) {
            std::vector<std::string> ids;
            for (const auto& id : signer.key_ids) ids.push_back(short_id(id));
            std::sort(ids.begin(), ids.end());
            rows.push_back({printable(signer.name), join(ids, ", ")});
        }
        out += docker_table(rows);
    }
    out += "\nAdministrative keys for " + printable(name) + "\n\n";
    auto sorted = [](std::vector<std::string> ids) {
        std::sort(ids.begin(), ids.end());
        return ids;
    };
    out += "  Repository Key:\t" + join(sorted(repository_key_ids), ", ") + "\n";
    out += "  Root Key:\t" + join(sorted(root_key_ids), ", ") + "\n";
    return out;
}

void add_inspect_command(CLI::App& trust, CommandContext& ctx, std::shared_ptr<TrustOptions> options) {
    struct State {
        bool pretty = false;
        std::vector<std::string> remotes;
    };
    auto state = std::make_shared<State>();
    auto* inspect = trust.add_subcommand("inspect", "Return low-level information about keys and signatures");
    inspect->add_flag("--pretty", state->pretty, "Print the information in a human friendly format");
    inspect->add_option("REPO", state->remotes, "Repositories, REPO[:TAG]")->required();
    inspect->callback([&ctx, options, state] {
        ctx.action = [options, state] {
            nlohmann::ordered_json all = nlohmann::ordered_json::array();
            std::string failures;
            for (const auto& remote : state->remotes) {
                const RepositoryTarget target = parse_repository(remote);
                try {
                    const auto data = pull_repository(*options, target);
                    auto report = TrustReport::build(data, remote, target.tag_given ? target.reference.tag : "");
                    if (state->pretty) {
                        std::cout << report.pretty();
                    } else {
                        all.push_back(report.to_json());
                    }
                } catch (const Failure& f) {
                    if (state->pretty) throw;
                    failures += failures.empty() ? f.what() : std::string("; ") + f.what();
                }
            }
            if (!state->pretty) std::cout << all.dump(4) << '\n';
            std::cout.flush();
            if (!std::cout) throw Failure::failed("cannot write to standard output");
            if (!failures.empty()) throw Failure::failed(failures);
        };
    });
}

} // namespace trustkey::tools::trust
