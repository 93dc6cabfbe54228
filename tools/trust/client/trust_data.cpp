#include "tools/trust/client/trust_data.h"

#include "lib/core/encoding.h"
#include "tools/trust/tuf/role_name.h"

namespace trustkey::trust {

namespace {

constexpr std::string_view kReleasesRole = "targets/releases";

} // namespace

bool TrustData::path_allowed(std::string_view role, std::string_view name) const {
    // Walk up from the role to "targets"; each level's delegation must allow the name.
    std::string current(role);
    while (current != tuf::kTargetsRole) {
        auto it = delegated_roles.find(current);
        if (it == delegated_roles.end() || !it->second.allows(name)) return false;
        current.resize(current.rfind('/'));
    }
    return true;
}

std::optional<TargetInfo> TrustData::find_in(std::string_view role, std::string_view name) const {
    const tuf::Targets* file = nullptr;
    if (role == tuf::kTargetsRole) {
        file = &targets;
    } else {
        auto it = delegations.find(std::string(role));
        if (it == delegations.end()) return std::nullopt;
        file = &it->second;
    }
    auto entry = file->targets.find(std::string(name));
    if (entry == file->targets.end() || !path_allowed(role, name)) return std::nullopt;
    auto hash = entry->second.hashes.find("sha256");
    if (hash == entry->second.hashes.end()) return std::nullopt;
    return TargetInfo{std::string(name), std::string(role), to_hex(hash->second), entry->second.length};
}

std::optional<TargetInfo> TrustData::lookup(std::string_view name) const {
    if (auto found = find_in(kReleasesRole, name)) return found;
    return find_in(tuf::kTargetsRole, name);
}

} // namespace trustkey::trust
