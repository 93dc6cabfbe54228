// Tpm2Backend::run, for the backend's own source files only: one TPM operation under the
// TPM lock, reconnecting once when the TPM went away or lost its state, and errors
// explained for the user.
#pragma once

#include <mutex>

#include "lib/backend/tpm2/tpm2_backend.h"
#include "lib/backend/tpm2/tss_error.h"

namespace trustkey::backend::tpm2 {

template <typename Op>
auto Tpm2Backend::run(const std::string& subject, Op&& op) {
    std::lock_guard lock(m_tpm_mutex);
    for (int attempt = 0;; ++attempt) {
        try {
            return op(connection());
        } catch (const Error& e) {
            const bool from_tss = is_tss_call(e);
            const auto rc = static_cast<TSS2_RC>(e.code());
            const bool gone = e.errc() == Errc::token_absent || (from_tss && is_unreachable(rc));
            const bool lost = from_tss && is_state_lost(rc);
            if (gone || lost) {
                drop_connection();
                if (attempt == 0) continue;
            }
            Error out = explained(e, m_config.name, m_config.tcti, subject);
            if (gone) m_tpm_error = out.message();
            throw out;
        }
    }
}

} // namespace trustkey::backend::tpm2
