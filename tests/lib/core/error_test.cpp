#include "lib/core/error.h"

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

namespace trustkey {
namespace {

TEST(Error, KeepsAllParts) {
    Error e(Errc::pin_incorrect, "The PIN is incorrect", 0xa0, "C_Login", "pkcs11:token=t");
    EXPECT_EQ(e.errc(), Errc::pin_incorrect);
    EXPECT_EQ(e.code(), 0xa0u);
    EXPECT_EQ(e.call(), "C_Login");
    EXPECT_EQ(e.subject(), "pkcs11:token=t");
    EXPECT_EQ(e.message(), "The PIN is incorrect");
    EXPECT_EQ(std::string(e.what()), "The PIN is incorrect [pkcs11:token=t] (C_Login)");
}

TEST(Error, WhatIsMessageWithoutDecoration) {
    Error e(Errc::not_found, "no key matches 'x'");
    EXPECT_EQ(std::string(e.what()), "no key matches 'x'");
    EXPECT_EQ(e.code(), 0u);
    EXPECT_TRUE(e.call().empty());
}

TEST(Error, ErrcNamesAreDistinct) {
    EXPECT_EQ(errc_name(Errc::ambiguous), "ambiguous");
    EXPECT_EQ(errc_name(Errc::token_absent), "token_absent");
    EXPECT_EQ(errc_name(Errc::config), "config");
    EXPECT_NE(errc_name(Errc::pin_locked), errc_name(Errc::pin_incorrect));
}

TEST(Error, ThrowErrnoKeepsErrno) {
    try {
        throw_errno("open", ENOENT, "/nowhere");
        FAIL() << "throw_errno returned";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::io);
        EXPECT_EQ(e.code(), static_cast<std::uint64_t>(ENOENT));
        EXPECT_EQ(e.call(), "open");
        EXPECT_EQ(e.subject(), "/nowhere");
        EXPECT_EQ(e.message(), std::strerror(ENOENT));
    }
}

TEST(Error, DomainIsNoneUnlessSetWhereTheErrorIsMade) {
    // A call name that looks like PKCS#11 does not make an error a PKCS#11 one.
    Error e(Errc::internal, "made by trustkey", 0x101, "C_Sign");
    EXPECT_EQ(e.domain(), ErrorDomain::none);
    Error copy = Error(Errc::token_error, "from the TPM", 0x101, "Esys_Sign").with_domain(ErrorDomain::tpm);
    EXPECT_EQ(copy.domain(), ErrorDomain::tpm);
    EXPECT_EQ(error_domain_name(ErrorDomain::pkcs11), "pkcs11");
    EXPECT_EQ(error_domain_name(ErrorDomain::protocol), "protocol");
}

TEST(Error, ThrowErrnoIsInTheOsDomain) {
    try {
        throw_errno("open", ENOENT, "/nowhere");
        FAIL() << "throw_errno returned";
    } catch (const Error& e) {
        EXPECT_EQ(e.domain(), ErrorDomain::os);
        EXPECT_EQ(e.code(), static_cast<std::uint64_t>(ENOENT));
    }
}

} // namespace
} // namespace trustkey
