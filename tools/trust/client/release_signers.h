// Docker's check before `trust signer remove`: whether the signer's keys are what
// keeps targets/releases.json (the file `docker pull` reads tags from) above its
// signature threshold.
#pragma once

#include <string>

#include "tools/trust/client/trust_data.h"

namespace trustkey::trust {

// True when targets/releases.json has valid signatures and fewer than its threshold of
// them would remain without the keys `signer_role` (a delegation of targets) lists:
// removing that signer would make the released tags unverifiable. False when the
// repository has no targets/releases file, the signer is not delegated, or enough
// signatures by other keys remain.
bool removal_leaves_releases_unsigned(const TrustData& data, const std::string& signer_role);

} // namespace trustkey::trust
