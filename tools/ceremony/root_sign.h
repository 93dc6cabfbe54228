// `root sign`: root.json listing the root certificates of `root generate` and the online
// roles' keys, signed by the root keys on the tokens given (inserted one after another),
// checked against the root role's threshold and written atomically.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace trustkey::ceremony {

class CeremonyContext;

struct RootSignOptions {
    std::filesystem::path keys_dir;       // holds root-keys.json and the certificates
    std::filesystem::path targets_key;
    std::filesystem::path snapshot_key;
    std::filesystem::path timestamp_key;
    std::int64_t version = 1;
    int expires_days = 3650;
    std::vector<std::string> tokens;      // URIs, in the order they are used
    std::filesystem::path out;            // empty: keys_dir / "root.json"
};

// Returns the path written. Throws Error(invalid_argument) for fewer tokens than the
// threshold (before any token is used), Error(not_found) for a token holding none of the
// root keys, Error(denied) when the signatures do not reach the threshold; nothing is
// written then.
std::filesystem::path root_sign(const RootSignOptions& options, CeremonyContext& context);

} // namespace trustkey::ceremony
