#include "lib/backend/tpm2/tss_error.h"

#include <cstdio>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

namespace trustkey::backend::tpm2 {

namespace {

bool is_tpm_layer(TSS2_RC rc) noexcept { return (rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER; }

} // namespace

TSS2_RC base_rc(TSS2_RC rc) noexcept {
    if (!is_tpm_layer(rc)) return rc & 0xFFFFU;
    if (rc & TPM2_RC_FMT1) return rc & (TPM2_RC_FMT1 | 0x3FU);
    return rc & 0xFFFU;
}

Errc errc_for_rc(TSS2_RC rc) noexcept {
    const TSS2_RC base = base_rc(rc);
    if (!is_tpm_layer(rc)) {
        switch (base) {
        case TSS2_BASE_RC_IO_ERROR:
        case TSS2_BASE_RC_NO_CONNECTION:
        case TSS2_BASE_RC_NOT_SUPPORTED:
        case TSS2_BASE_RC_TRY_AGAIN: return is_unreachable(rc) ? Errc::token_absent : Errc::token_error;
        case TSS2_BASE_RC_BAD_VALUE:
        case TSS2_BASE_RC_BAD_REFERENCE:
        case TSS2_BASE_RC_BAD_SIZE: return Errc::internal;
        default: return Errc::token_error;
        }
    }
    switch (base) {
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH: return Errc::pin_incorrect;
    case TPM2_RC_LOCKOUT: return Errc::pin_locked;
    case TPM2_RC_CURVE:
    case TPM2_RC_SCHEME:
    case TPM2_RC_KEY_SIZE:
    case TPM2_RC_ASYMMETRIC:
    case TPM2_RC_HASH:
    case TPM2_RC_SYMMETRIC: return Errc::unsupported_algorithm;
    default: return Errc::token_error;
    }
}

std::string rc_text(TSS2_RC rc) {
    char code[32];
    std::snprintf(code, sizeof code, "0x%08x", static_cast<unsigned>(rc));
    const char* text = Tss2_RC_Decode(rc);
    if (text == nullptr) return std::string("TSS2 error ") + code;
    return std::string(text) + " (rc " + code + ")";
}

Error tss_error(const char* call, TSS2_RC rc, std::string subject) {
    Error e(errc_for_rc(rc), rc_text(rc), rc, call, std::move(subject));
    e.set_domain(ErrorDomain::tpm);
    const char* text = Tss2_RC_Decode(rc);
    if (text != nullptr) e.set_code_name(text);
    return e;
}

bool is_unreachable(TSS2_RC rc) noexcept {
    if (is_tpm_layer(rc)) return false;
    const TSS2_RC base = base_rc(rc);
    return base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION || base == TSS2_BASE_RC_TRY_AGAIN;
}

bool is_state_lost(TSS2_RC rc) noexcept {
    if (!is_tpm_layer(rc)) {
        // ESYS noticed that a handle's name no longer matches what the TPM reports.
        const TSS2_RC base = base_rc(rc);
        return base == TSS2_BASE_RC_BAD_TR;
    }
    const TSS2_RC base = base_rc(rc);
    return base == TPM2_RC_HANDLE || base == TPM2_RC_INITIALIZE || base == TPM2_RC_REFERENCE_H0 ||
           base == TPM2_RC_OBJECT_MEMORY;
}

bool is_tss_call(const Error& e) {
    return e.call().rfind("Esys_", 0) == 0 || e.call().rfind("Tss2_", 0) == 0;
}


Error explained(const Error& e, const std::string& backend, const std::string& tcti, const std::string& subject) {
    std::string msg = e.message();
    if (is_tss_call(e)) {
        switch (e.errc()) {
        case Errc::token_absent:
            msg = "the TPM of backend '" + backend + "' (" + tcti + ") is unreachable: " + e.message();
            break;
        case Errc::pin_locked:
            msg = "the TPM of backend '" + backend + "' is in dictionary-attack lockout; it refuses authorizations "
                  "until the lockout time passes or the lockout is reset (" + e.message() + ")";
            break;
        case Errc::pin_incorrect:
            msg = "the TPM of backend '" + backend + "' refused the authorization value (" + e.message() + ")";
            break;
        default:
            {
                const std::string prefix = "backend '" + backend + "'";
                msg = e.message().rfind(prefix, 0) == 0 ? e.message() : prefix + ": " + e.message();
            }
            if (base_rc(static_cast<TSS2_RC>(e.code())) == TPM2_RC_OBJECT_MEMORY)
                msg += "; other programs hold the TPM's object slots (use a resource manager: device:/dev/tpmrm0 "
                       "or tabrmd)";
            break;
        }
    }
    if (!subject.empty() && !e.subject().empty() && e.subject() != subject && e.subject() != tcti)
        msg += " (" + e.subject() + ")";
    Error out(e.errc(), std::move(msg), e.code(), e.call(), subject.empty() ? e.subject() : subject);
    out.set_code_name(e.code_name());
    return out;
}

} // namespace trustkey::backend::tpm2
