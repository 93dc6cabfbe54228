#include "lib/backend/pkcs11/token_login.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "lib/backend/pkcs11/ck_error.h"
#include "lib/core/error.h"
#include "tests/lib/keys/openssl_cli.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::backend::pkcs11 {
namespace {

Errc errc_of_read(const PinSource& s) {
    try {
        read_pin(s);
    } catch (const Error& e) {
        return e.errc();
    }
    ADD_FAILURE() << "no error";
    return Errc::internal;
}

TEST(ReadPin, FromEnvironment) {
    ::setenv("TRUSTKEY_PIN_UNDER_TEST", "4321", 1);
    EXPECT_EQ(as_string_view(read_pin({PinSource::Kind::env, "TRUSTKEY_PIN_UNDER_TEST"})), "4321");
    ::setenv("TRUSTKEY_PIN_UNDER_TEST", "", 1);
    EXPECT_EQ(errc_of_read({PinSource::Kind::env, "TRUSTKEY_PIN_UNDER_TEST"}), Errc::pin_required);
    ::unsetenv("TRUSTKEY_PIN_UNDER_TEST");
    EXPECT_EQ(errc_of_read({PinSource::Kind::env, "TRUSTKEY_PIN_UNDER_TEST"}), Errc::pin_required);
}

TEST(ReadPin, FromFile) {
    test::TempDir dir;
    auto f = dir / "pin";
    test::write_bytes(f, as_bytes("s3cr3t\n"));
    EXPECT_EQ(as_string_view(read_pin({PinSource::Kind::file, f.string()})), "s3cr3t");
    test::write_bytes(f, as_bytes("s3cr3t\r\n\n"));
    EXPECT_EQ(as_string_view(read_pin({PinSource::Kind::file, f.string()})), "s3cr3t");
    test::write_bytes(f, as_bytes("with space"));
    EXPECT_EQ(as_string_view(read_pin({PinSource::Kind::file, f.string()})), "with space");
    test::write_bytes(f, as_bytes("so_pin=aaaa\nuser_pin=bbbb\n"));
    EXPECT_EQ(as_string_view(read_pin({PinSource::Kind::file, f.string()})), "bbbb");
    test::write_bytes(f, as_bytes("\n"));
    EXPECT_EQ(errc_of_read({PinSource::Kind::file, f.string()}), Errc::pin_required);
    EXPECT_EQ(errc_of_read({PinSource::Kind::file, (dir / "missing").string()}), Errc::config);
    EXPECT_EQ(errc_of_read({PinSource::Kind::none, ""}), Errc::pin_required);
}

TEST(CkError, MapsReturnValues) {
    EXPECT_EQ(errc_for_rv(CKR_PIN_INCORRECT), Errc::pin_incorrect);
    EXPECT_EQ(errc_for_rv(CKR_PIN_LOCKED), Errc::pin_locked);
    EXPECT_EQ(errc_for_rv(CKR_USER_NOT_LOGGED_IN), Errc::pin_required);
    EXPECT_EQ(errc_for_rv(CKR_TOKEN_NOT_PRESENT), Errc::token_absent);
    EXPECT_EQ(errc_for_rv(CKR_DEVICE_REMOVED), Errc::token_absent);
    EXPECT_EQ(errc_for_rv(CKR_SLOT_ID_INVALID), Errc::token_absent);
    EXPECT_EQ(errc_for_rv(CKR_GENERAL_ERROR), Errc::token_error);
    Error e = ck_error("C_Sign", CKR_KEY_HANDLE_INVALID, "abc123");
    EXPECT_EQ(e.code(), CKR_KEY_HANDLE_INVALID);
    EXPECT_EQ(e.call(), "C_Sign");
    EXPECT_EQ(e.subject(), "abc123");
    EXPECT_FALSE(e.message().empty());
    EXPECT_NO_THROW(check_rv("C_Sign", CKR_OK));
    EXPECT_THROW(check_rv("C_Sign", CKR_FUNCTION_FAILED), Error);
}

} // namespace
} // namespace trustkey::backend::pkcs11
