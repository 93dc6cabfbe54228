#include "tools/trustkey/trust/pull_repository.h"

#include "lib/core/error.h"
#include "tools/trust/client/updater.h"
#include "tools/trustkey/failure.h"

namespace trustkey::tools::trust {

::trustkey::trust::TrustData pull_repository(const TrustOptions& options, const RepositoryTarget& target) {
    try {
        notary::NotaryClient client = notary_client(options, target);
        ::trustkey::trust::Updater updater(client, trust_dir(options));
        return updater.update();
    } catch (const Error& e) {
        if (e.errc() == Errc::not_found) {
            const std::string hint = default_server_hint(options, target.reference);
            throw Failure::failed("no trust data for " + target.gun + " on " + server_url(options, target.reference) +
                                  (hint.empty() ? "" : " (" + hint + ")"));
        }
        const std::string context = "cannot verify trust data for " + target.gun;
        throw Failure::failed(context + ": " + error_text(e, context));
    }
}

} // namespace trustkey::tools::trust
