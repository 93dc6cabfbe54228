#include "lib/backend/pkcs11/ck_error.h"

#include <gtest/gtest.h>

namespace trustkey::backend::pkcs11 {
namespace {

TEST(CkError, IsInThePkcs11DomainWithTheRvAndItsName) {
    const Error e = ck_error("C_Sign", CKR_USER_NOT_LOGGED_IN, "token");
    EXPECT_EQ(e.domain(), ErrorDomain::pkcs11);
    EXPECT_EQ(e.code(), CKR_USER_NOT_LOGGED_IN);
    EXPECT_EQ(e.code_name(), "CKR_USER_NOT_LOGGED_IN");
}

TEST(CkError, TrustkeysOwnReadingKeepsTheDomain) {
    const Error e = ck_error(Errc::pin_incorrect, "the token refused the PIN", "C_SetPIN", CKR_PIN_INCORRECT);
    EXPECT_EQ(e.errc(), Errc::pin_incorrect);
    EXPECT_EQ(e.domain(), ErrorDomain::pkcs11);
    EXPECT_EQ(e.code_name(), "CKR_PIN_INCORRECT");
    EXPECT_EQ(e.message(), "the token refused the PIN");
}

} // namespace
} // namespace trustkey::backend::pkcs11
