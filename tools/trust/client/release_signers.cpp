#include "tools/trust/client/release_signers.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tools/trust/tuf/signed.h"

namespace trustkey::trust {

namespace {

constexpr const char* kReleasesRole = "targets/releases";

} // namespace

bool removal_leaves_releases_unsigned(const TrustData& data, const std::string& signer_role) {
    const tuf::DelegatedRole* signer = data.targets.delegations.find(signer_role);
    const tuf::DelegatedRole* releases = data.targets.delegations.find(kReleasesRole);
    const auto file = data.files.find(kReleasesRole);
    if (signer == nullptr || releases == nullptr || file == data.files.end()) return false;

    const tuf::Signed signed_file = tuf::Signed::parse(file->second, kReleasesRole);
    const tuf::KeyMap keys = releases->keys.select(data.targets.delegations.keys);
    // The update verified the file already; this collects the key ids of its valid signatures.
    const std::vector<std::string> valid = signed_file.verify(keys, releases->keys.threshold);
    const auto& removed = signer->keys.keyids;
    const auto remaining = std::count_if(valid.begin(), valid.end(), [&](const std::string& id) {
        return std::find(removed.begin(), removed.end(), id) == removed.end();
    });
    return static_cast<std::int64_t>(remaining) < releases->keys.threshold;
}

} // namespace trustkey::trust
