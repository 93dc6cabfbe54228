#include "tools/trustkey/trust/pull_repository.h"

#include "daemon/core/error.h"
#include "tools/trust/client/updater.h"
#include "tools/trustkey/failure.h"

namespace trustkey::tools::trust {

::trustkey::trust::TrustData pull_repository(const TrustOptions& options, const RepositoryTarget& target) {
    try {
        notary::NotaryClient client = notary_client(options, target);
        ::trustkey::trust::Updater updater(client, trust_dir(options));
        return updater.update();
    } catch (const Error& e) {
        if (e.errc() == Errc::not_found)
            throw Failure::failed("no trust data for " + target.gun + " on " + server_url(options, target.reference));
        throw Failure::failed("cannot verify trust data for " + target.gun + ": " + e.what());
    }
}

} // namespace trustkey::tools::trust
