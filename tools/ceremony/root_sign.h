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
    // Public key files of the online roles; with `previous`, an empty one keeps that role's
    // key from the previous root.
    std::filesystem::path targets_key;
    std::filesystem::path snapshot_key;
    std::filesystem::path timestamp_key;
    // Root rotation: the root.json clients trust now. The new root.json then also needs the
    // signatures of its root role's threshold of keys (TUF's rule, which notary follows), so
    // that clients holding it accept the new one.
    std::filesystem::path previous;
    std::int64_t version = 0;             // 0: 1, or the previous version + 1
    int expires_days = 3650;
    std::vector<std::string> tokens;      // URIs, in the order they are used
    std::filesystem::path out;            // empty: keys_dir / "root.json"
};

// Each token signs with every root key it holds, new or previous. Returns the path written. Throws Error(invalid_argument) for fewer tokens than the
// threshold (before any token is used), Error(not_found) for a token holding none of the
// root keys, Error(denied) when the signatures do not reach the threshold; nothing is
// written then.
std::filesystem::path root_sign(const RootSignOptions& options, CeremonyContext& context);

} // namespace trustkey::ceremony
