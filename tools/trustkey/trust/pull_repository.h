// The pull side shared by `trust inspect` and `trust verify`: a verified update of a
// repository's trust data from its notary server (found as trust_context.h says).
#pragma once

#include "tools/trust/client/trust_data.h"
#include "tools/trustkey/trust/trust_context.h"
#include "tools/trustkey/trust/trust_options.h"

namespace trustkey::tools::trust {

// Updates and verifies the repository's metadata into the trust directory's cache.
// Throws Failure::failed with one line naming the repository and the reason (server
// unreachable, no trust data, a refused file).
::trustkey::trust::TrustData pull_repository(const TrustOptions& options, const RepositoryTarget& target);

} // namespace trustkey::tools::trust
