#include "tools/trust/tuf/role_name.h"

#include <string>

#include "lib/core/error.h"

namespace trustkey::tuf {

namespace {
constexpr std::size_t kMaxRoleNameLength = 255;
}

bool is_base_role(std::string_view name) noexcept {
    return name == kRootRole || name == kTargetsRole || name == kSnapshotRole || name == kTimestampRole;
}

bool is_delegation(std::string_view name) noexcept {
    if (name.size() > kMaxRoleNameLength) return false;
    if (!name.starts_with("targets/") || name.size() == 8) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '/';
        if (!ok) return false;
    }
    // Clean path: no empty, "." or ".." segment, no trailing slash.
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t end = name.find('/', start);
        if (end == std::string_view::npos) end = name.size();
        std::string_view seg = name.substr(start, end - start);
        if (seg.empty() || seg == "." || seg == "..") return false;
        start = end + 1;
    }
    return true;
}

bool is_direct_child(std::string_view parent, std::string_view child) noexcept {
    if (parent != kTargetsRole && !is_delegation(parent)) return false;
    if (!is_delegation(child) || child.size() <= parent.size() + 1) return false;
    if (!child.starts_with(parent) || child[parent.size()] != '/') return false;
    return child.substr(parent.size() + 1).find('/') == std::string_view::npos;
}

std::string_view role_type(std::string_view role) {
    if (role == kRootRole) return "Root";
    if (role == kTargetsRole || is_delegation(role)) return "Targets";
    if (role == kSnapshotRole) return "Snapshot";
    if (role == kTimestampRole) return "Timestamp";
    throw Error(Errc::invalid_argument, "\"" + std::string(role) + "\" is not a TUF role name");
}

} // namespace trustkey::tuf
