// C_GetTokenInfo, one call at a time in the process. SoftHSM2 2.6 fills a token's clock
// field with gmtime(), whose result lives in one buffer shared by the whole process, so two
// threads asking at once (two tokens' presence checks, a status beside a login) write it
// together. Token information is asked for rarely; serializing it costs nothing that counts.
#pragma once

#include <p11-kit/pkcs11.h>

namespace trustkey::backend::pkcs11 {

CK_RV get_token_info(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, CK_TOKEN_INFO& info);

} // namespace trustkey::backend::pkcs11
