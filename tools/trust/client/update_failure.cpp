#include "tools/trust/client/update_failure.h"

namespace trustkey::trust {

std::string_view update_failure_name(UpdateFailure f) noexcept {
    switch (f) {
    case UpdateFailure::threshold: return "threshold";
    case UpdateFailure::expired: return "expired";
    case UpdateFailure::rollback: return "rollback";
    case UpdateFailure::hash_mismatch: return "hash_mismatch";
    case UpdateFailure::length_mismatch: return "length_mismatch";
    case UpdateFailure::unknown_delegation: return "unknown_delegation";
    case UpdateFailure::certificate: return "certificate";
    case UpdateFailure::missing: return "missing";
    case UpdateFailure::version: return "version";
    case UpdateFailure::wrong_type: return "wrong_type";
    }
    return "unknown";
}

Error update_error(UpdateFailure f, std::string_view role, std::string_view text) {
    std::string r(role);
    Error e(Errc::denied, r + ": " + std::string(text), 0, {}, r);
    e.set_code_name(std::string(update_failure_name(f)));
    return e;
}

} // namespace trustkey::trust
