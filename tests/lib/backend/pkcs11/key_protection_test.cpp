// Checks with direct PKCS#11 calls that keys put on the token by the backend
// are sensitive and cannot be read out.
#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/backend/private_key.h"
#include "tests/lib/keys/openssl_cli.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::backend::pkcs11 {
namespace {

class KeyProtectionTest : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv("TRUSTKEY_TEST_PIN", token.user_pin().c_str(), 1);
        Pkcs11Config c{"test", test::SoftHsmToken::module(), token.uri(), {PinSource::Kind::env, "TRUSTKEY_TEST_PIN"}, 2};
        backend = make_pkcs11_backend(c);
        module = Module::open(test::SoftHsmToken::module());
        fn = module->fn();
        CK_ULONG count = 0;
        ASSERT_EQ(fn->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_OK);
        std::vector<CK_SLOT_ID> slots(count);
        ASSERT_EQ(fn->C_GetSlotList(CK_TRUE, slots.data(), &count), CKR_OK);
        for (CK_ULONG i = 0; i < count; ++i) {
            CK_TOKEN_INFO info{};
            ASSERT_EQ(fn->C_GetTokenInfo(slots[i], &info), CKR_OK);
            if (std::string(reinterpret_cast<char*>(info.label), token.label().size()) == token.label() &&
                (info.flags & CKF_TOKEN_INITIALIZED)) {
                ASSERT_EQ(fn->C_OpenSession(slots[i], CKF_SERIAL_SESSION, nullptr, nullptr, &session), CKR_OK);
                break;
            }
        }
        ASSERT_NE(session, CK_INVALID_HANDLE);
        std::string pin = token.user_pin();
        CK_RV rv = fn->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
        ASSERT_TRUE(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) << rv;
    }
    void TearDown() override {
        if (session != CK_INVALID_HANDLE) fn->C_CloseSession(session);
    }

    CK_OBJECT_HANDLE private_object(const std::string& label) {
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        CK_ATTRIBUTE templ[] = {{CKA_CLASS, &cls, sizeof cls},
                                {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
        EXPECT_EQ(fn->C_FindObjectsInit(session, templ, 2), CKR_OK);
        CK_OBJECT_HANDLE found[2];
        CK_ULONG n = 0;
        EXPECT_EQ(fn->C_FindObjects(session, found, 2, &n), CKR_OK);
        fn->C_FindObjectsFinal(session);
        EXPECT_EQ(n, 1u) << label;
        return n == 1 ? found[0] : CK_INVALID_HANDLE;
    }

    void expect_protected(const std::string& label, bool rsa) {
        CK_OBJECT_HANDLE obj = private_object(label);
        ASSERT_NE(obj, CK_INVALID_HANDLE);
        CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE;
        CK_ATTRIBUTE flags[] = {{CKA_SENSITIVE, &sensitive, sizeof sensitive},
                                {CKA_EXTRACTABLE, &extractable, sizeof extractable}};
        ASSERT_EQ(fn->C_GetAttributeValue(session, obj, flags, 2), CKR_OK);
        EXPECT_EQ(sensitive, CK_TRUE) << label;
        EXPECT_EQ(extractable, CK_FALSE) << label;
        unsigned char buf[1024];
        CK_ATTRIBUTE secret = {static_cast<CK_ATTRIBUTE_TYPE>(rsa ? CKA_PRIVATE_EXPONENT : CKA_VALUE), buf, sizeof buf};
        EXPECT_EQ(fn->C_GetAttributeValue(session, obj, &secret, 1), CKR_ATTRIBUTE_SENSITIVE) << label;
        EXPECT_EQ(secret.ulValueLen, static_cast<CK_ULONG>(-1));
    }

    test::SoftHsmToken token;
    test::TempDir dir;
    std::unique_ptr<Backend> backend;
    std::shared_ptr<Module> module;
    CK_FUNCTION_LIST* fn = nullptr;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
};

TEST_F(KeyProtectionTest, GeneratedKeysAreSensitive) {
    backend->generate("gen-ec", KeyType::ecdsa_p256);
    backend->generate("gen-ed", KeyType::ed25519);
    backend->generate("gen-rsa", KeyType::rsa_2048);
    expect_protected("gen-ec", false);
    expect_protected("gen-ed", false);
    expect_protected("gen-rsa", true);
}

TEST_F(KeyProtectionTest, ImportedKeysAreSensitive) {
    test::generate_pem("ecdsa", dir / "ec.pem");
    test::generate_pem("rsa", dir / "rsa.pem");
    test::generate_pem("ed25519", dir / "ed.pem");
    backend->import_key("imp-ec", PrivateKey::from_pem(test::read_text(dir / "ec.pem"), nullptr));
    backend->import_key("imp-rsa", PrivateKey::from_pem(test::read_text(dir / "rsa.pem"), nullptr));
    backend->import_key("imp-ed", PrivateKey::from_pem(test::read_text(dir / "ed.pem"), nullptr));
    expect_protected("imp-ec", false);
    expect_protected("imp-rsa", true);
    expect_protected("imp-ed", false);
}

} // namespace
} // namespace trustkey::backend::pkcs11
