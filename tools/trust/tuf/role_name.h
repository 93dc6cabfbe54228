// TUF role names: root, targets, snapshot, timestamp and delegations targets/<a>[/<b>…].
#pragma once

#include <string_view>

namespace trustkey::tuf {

inline constexpr std::string_view kRootRole = "root";
inline constexpr std::string_view kTargetsRole = "targets";
inline constexpr std::string_view kSnapshotRole = "snapshot";
inline constexpr std::string_view kTimestampRole = "timestamp";

bool is_base_role(std::string_view name) noexcept;
// A delegation: under "targets/", matches ^[-a-z0-9_/]+$, under 256 bytes, a clean path.
bool is_delegation(std::string_view name) noexcept;
// True when `child` is a delegation one level below `parent` ("targets" or a delegation).
bool is_direct_child(std::string_view parent, std::string_view child) noexcept;
// The "_type" a role's file carries: "Root", "Targets" (also delegations), "Snapshot",
// "Timestamp". Throws Error(invalid_argument) for a name that is no role.
std::string_view role_type(std::string_view role);

} // namespace trustkey::tuf
