#include "lib/backend/tpm2/tss_error.h"

#include <gtest/gtest.h>
#include <tss2/tss2_tpm2_types.h>

namespace trustkey::backend::tpm2 {
namespace {

TEST(TssError, IsInTheTpmDomainWithTheCode) {
    const Error e = tss_error("Esys_Sign", TPM2_RC_AUTH_FAIL, "key");
    EXPECT_EQ(e.domain(), ErrorDomain::tpm);
    EXPECT_EQ(e.code(), static_cast<std::uint64_t>(TPM2_RC_AUTH_FAIL));
}

} // namespace
} // namespace trustkey::backend::tpm2
