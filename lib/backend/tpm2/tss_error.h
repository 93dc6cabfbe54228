// TSS2 return codes as trustkey errors: the TSS2_RC is kept in Error::code(),
// the call name in call(), the key and backend in subject().
#pragma once

#include <string>

#include <tss2/tss2_common.h>

#include "lib/core/error.h"

namespace trustkey::backend::tpm2 {

// The code with the layer, and the parameter/handle/session number of format-one TPM
// codes, stripped, so it compares with TPM2_RC_* and TSS2_BASE_RC_* constants.
TSS2_RC base_rc(TSS2_RC rc) noexcept;
Errc errc_for_rc(TSS2_RC rc) noexcept;
// Text from Tss2_RC_Decode and the code in hex ("tpm:error(2.0): authorization failure … (rc 0x0000098e)").
std::string rc_text(TSS2_RC rc);
Error tss_error(const char* call, TSS2_RC rc, std::string subject = {});
// Throws tss_error() unless rc is TSS2_RC_SUCCESS.
inline void check_rc(const char* call, TSS2_RC rc, const std::string& subject = {}) {
    if (rc != TSS2_RC_SUCCESS) throw tss_error(call, rc, subject);
}
// True when the TPM could not be reached (TCTI I/O, no connection).
bool is_unreachable(TSS2_RC rc) noexcept;
// True when the TPM lost what the daemon had loaded (it was restarted): handles no
// longer valid, or the TPM not initialized.
bool is_state_lost(TSS2_RC rc) noexcept;
// True for an error raised by an Esys_* or Tss2_* call (not one of the backend's own).
bool is_tss_call(const Error& e);
// The error to report for backend `backend` at `tcti`: the TPM's words with what they mean
// for the user (unreachable, lockout, refused authorization, no object slots), named by
// `subject`. The backend's own errors already say what they mean and keep their message.
Error explained(const Error& e, const std::string& backend, const std::string& tcti, const std::string& subject);

} // namespace trustkey::backend::tpm2
