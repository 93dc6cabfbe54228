#include "lib/backend/pkcs11/token_info.h"

#include <mutex>

namespace trustkey::backend::pkcs11 {

CK_RV get_token_info(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, CK_TOKEN_INFO& info) {
    static std::mutex one_at_a_time;
    std::lock_guard lock(one_at_a_time);
    return fn->C_GetTokenInfo(slot, &info);
}

} // namespace trustkey::backend::pkcs11
