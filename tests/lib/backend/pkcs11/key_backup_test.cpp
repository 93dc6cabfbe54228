// Copying a key between two real SoftHSM2 tokens by wrapping (backup_key), checked with
// direct PKCS#11 calls on both tokens and with the backend on the destination.
#include "lib/backend/pkcs11/key_backup.h"

#include <cstdlib>
#include <memory>
#include <optional>

#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/object_attributes.h"
#include "lib/backend/pkcs11/object_search.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/backend/pkcs11/scoped_login.h"
#include "lib/backend/pkcs11/session.h"
#include "lib/keys/public_key.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/expect_error.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::backend::pkcs11 {
namespace {

const std::string kTransport = kBackupTransportLabel;

// A user session on one token for looking at it directly; logged out when it goes.
class TokenProbe {
public:
    TokenProbe(const std::string& label, const std::string& pin)
        : m_module(Module::open(test::SoftHsmToken::module())),
          m_session(m_module, find_token(test::SoftHsmToken::module(), "pkcs11:token=" + label).id),
          m_login(m_session, CKU_USER, secure_from(pin), label) {}

    std::vector<CK_OBJECT_HANDLE> labelled(const std::string& label) {
        return find_objects(fn(), m_session.get(), {attr(CKA_LABEL, label.data(), label.size())});
    }
    std::vector<CK_OBJECT_HANDLE> with_id(const std::string& key_id) {
        const Bytes id = *from_hex(key_id);
        return find_objects(fn(), m_session.get(), {attr(CKA_ID, id.data(), id.size())});
    }
    CK_OBJECT_HANDLE private_key(const std::string& key_id) {
        const Bytes id = *from_hex(key_id);
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        auto found = find_objects(fn(), m_session.get(), {attr(CKA_CLASS, cls), attr(CKA_ID, id.data(), id.size())});
        EXPECT_EQ(found.size(), 1u);
        return found.empty() ? CK_INVALID_HANDLE : found.front();
    }
    bool flag(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
        CK_BBOOL value = CK_FALSE;
        CK_ATTRIBUTE a{type, &value, sizeof value};
        EXPECT_EQ(fn()->C_GetAttributeValue(m_session.get(), object, &a, 1), CKR_OK);
        return value == CK_TRUE;
    }
    CK_RV read_value(CK_OBJECT_HANDLE object) {
        unsigned char buf[256];
        CK_ATTRIBUTE a{CKA_VALUE, buf, sizeof buf};
        return fn()->C_GetAttributeValue(m_session.get(), object, &a, 1);
    }
    // A token object left behind as an interrupted run would leave it.
    void plant_leftover() {
        CK_OBJECT_CLASS cls = CKO_DATA;
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
        const char value[] = "left over";
        std::vector<CK_ATTRIBUTE> t{attr(CKA_CLASS, cls), attr(CKA_TOKEN, yes), attr(CKA_PRIVATE, no),
                                    attr(CKA_LABEL, kTransport.data(), kTransport.size()),
                                    attr(CKA_VALUE, value, sizeof value)};
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        ASSERT_EQ(fn()->C_CreateObject(m_session.get(), t.data(), static_cast<CK_ULONG>(t.size()), &h), CKR_OK);
    }

private:
    CK_FUNCTION_LIST* fn() const { return m_session.fn(); }

    std::shared_ptr<Module> m_module;
    Session m_session;
    ScopedLogin m_login;
};

class KeyBackupTest : public ::testing::Test {
protected:
    void SetUp() override {
        for (const auto& [label, pin] : {std::pair{"backup-b", "2222"}, std::pair{"backup-c", "3333"}}) {
            const auto r = test::run_command("softhsm2-util --init-token --free --label " + std::string(label) +
                                             " --pin " + pin + " --so-pin 6666");
            ASSERT_EQ(r.exit_code, 0) << r.output;
        }
    }

    std::unique_ptr<Backend> backend_on(const std::string& label, const std::string& pin) {
        ::setenv("KEY_BACKUP_TEST_PIN", pin.c_str(), 1);
        return make_pkcs11_backend(Pkcs11Config{label, test::SoftHsmToken::module(), "pkcs11:token=" + label,
                                                {PinSource::Kind::env, "KEY_BACKUP_TEST_PIN"}, 1});
    }
    // A key on the source, made by the backend, which is closed again (and logs out with it).
    KeyInfo make_key(bool wrappable) {
        auto backend = backend_on("backup-a", "1111");
        return wrappable ? backend->generate_wrappable("root-key", KeyType::ecdsa_p256)
                         : backend->generate("root-key", KeyType::ecdsa_p256);
    }
    KeyBackupRequest request(const std::string& key_id, const std::string& to = "backup-b",
                             const std::string& to_pin = "2222") {
        return KeyBackupRequest{test::SoftHsmToken::module(), "pkcs11:token=backup-a", "pkcs11:token=" + to, key_id,
                                secure_from("1111"), secure_from("5555"), secure_from(to_pin)};
    }
    void expect_no_transport_objects() {
        EXPECT_TRUE(TokenProbe("backup-a", "1111").labelled(kTransport).empty());
        EXPECT_TRUE(TokenProbe("backup-b", "2222").labelled(kTransport).empty());
    }

    test::SoftHsmToken m_a{"backup-a", "1111", "5555"};
};

TEST_F(KeyBackupTest, CopyIsSensitiveAndSignsForTheOriginalPublicKey) {
    const KeyInfo key = make_key(true);
    const KeyBackupResult result = backup_key(request(key.id));
    EXPECT_EQ(result.from.label, "backup-a");
    EXPECT_EQ(result.to.label, "backup-b");
    EXPECT_EQ(result.key_label, "root-key");
    EXPECT_EQ(result.spki_der, key.spki_der);
    EXPECT_EQ(result.leftovers_removed, 0u);
    EXPECT_NE(result.transport.find("RFC 5649"), std::string::npos) << result.transport;
    {
        TokenProbe b("backup-b", "2222");
        const CK_OBJECT_HANDLE copy = b.private_key(key.id);
        ASSERT_NE(copy, CK_INVALID_HANDLE);
        EXPECT_TRUE(b.flag(copy, CKA_SENSITIVE));
        EXPECT_TRUE(b.flag(copy, CKA_PRIVATE));
        EXPECT_TRUE(b.flag(copy, CKA_WRAP_WITH_TRUSTED));
        EXPECT_EQ(b.read_value(copy), static_cast<CK_RV>(CKR_ATTRIBUTE_SENSITIVE));
        EXPECT_EQ(b.with_id(key.id).size(), 2u);  // the key and its public key, nothing else
        TokenProbe a("backup-a", "1111");
        EXPECT_EQ(a.with_id(key.id).size(), 2u);  // the original stays
        const CK_OBJECT_HANDLE original = a.private_key(key.id);
        EXPECT_TRUE(a.flag(original, CKA_SENSITIVE));
        EXPECT_TRUE(a.flag(original, CKA_EXTRACTABLE));
        EXPECT_TRUE(a.flag(original, CKA_WRAP_WITH_TRUSTED));
    }
    expect_no_transport_objects();
    // The backend on the destination lists the copy under the same id and name, and it signs.
    auto b = backend_on("backup-b", "2222");
    const auto keys = b->list_keys();
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].id, key.id);
    EXPECT_EQ(keys[0].name, "root-key");
    const Bytes digest = sha256(as_bytes("signed by the copy"));
    const Bytes sig = b->sign(keys[0], HashAlg::sha256, digest);
    EXPECT_TRUE(verify_signature(KeyType::ecdsa_p256, key.spki_der, HashAlg::sha256, digest, sig));
}

TEST_F(KeyBackupTest, CopyCanBeCopiedAgainWithItsOwnTokensSoPin) {
    const KeyInfo key = make_key(true);
    backup_key(request(key.id));
    KeyBackupRequest again{test::SoftHsmToken::module(), "pkcs11:token=backup-b", "pkcs11:token=backup-c", key.id,
                           secure_from("2222"), secure_from("6666"), secure_from("3333")};
    const KeyBackupResult result = backup_key(again);
    EXPECT_EQ(result.to.label, "backup-c");
    EXPECT_EQ(backend_on("backup-c", "3333")->list_keys().at(0).id, key.id);
}

TEST_F(KeyBackupTest, NonExtractableKeyIsRefused) {
    const KeyInfo key = make_key(false);
    const Error e = test::expect_error([&] { backup_key(request(key.id)); });
    EXPECT_EQ(e.errc(), Errc::denied);
    EXPECT_NE(std::string(e.what()).find("not extractable"), std::string::npos) << e.what();
    EXPECT_TRUE(TokenProbe("backup-b", "2222").with_id(key.id).empty());
    expect_no_transport_objects();
}

TEST_F(KeyBackupTest, WrongSoPinChangesNothing) {
    const KeyInfo key = make_key(true);
    KeyBackupRequest r = request(key.id);
    r.from_so_pin = secure_from("0000");
    // The SO logs in after the destination made its transport key pair: that is destroyed too.
    const Error e = test::expect_error([&] { backup_key(r); });
    EXPECT_EQ(e.errc(), Errc::pin_incorrect);
    EXPECT_NE(std::string(e.what()).find("wrong SO PIN for token backup-a"), std::string::npos) << e.what();
    EXPECT_TRUE(TokenProbe("backup-b", "2222").with_id(key.id).empty());
    expect_no_transport_objects();
    // The right SO PIN works afterwards.
    EXPECT_EQ(backup_key(request(key.id)).key_label, "root-key");
}

TEST_F(KeyBackupTest, DestinationHoldingTheKeyIsRefusedAndLeftAlone) {
    const KeyInfo key = make_key(true);
    backup_key(request(key.id));
    const Error e = test::expect_error([&] { backup_key(request(key.id)); });
    EXPECT_EQ(e.errc(), Errc::already_exists);
    EXPECT_NE(std::string(e.what()).find("already holds a key with id " + key.id), std::string::npos) << e.what();
    EXPECT_EQ(TokenProbe("backup-b", "2222").with_id(key.id).size(), 2u);
    expect_no_transport_objects();
}

TEST_F(KeyBackupTest, WrongDestinationPinIsNamed) {
    const KeyInfo key = make_key(true);
    const Error e = test::expect_error([&] { backup_key(request(key.id, "backup-b", "9999")); });
    EXPECT_EQ(e.errc(), Errc::pin_incorrect);
    EXPECT_NE(std::string(e.what()).find("wrong user PIN for token backup-b"), std::string::npos) << e.what();
}

TEST_F(KeyBackupTest, AbsentTokenAndUnknownKeyAreRefused) {
    const KeyInfo key = make_key(true);
    EXPECT_EQ(test::expect_error([&] { backup_key(request(key.id, "no-such-token")); }).errc(), Errc::token_absent);
    const std::string other(64, 'a');
    EXPECT_EQ(test::expect_error([&] { backup_key(request(other)); }).errc(), Errc::not_found);
    EXPECT_EQ(test::expect_error([&] {
                  KeyBackupRequest r = request(key.id);
                  r.to_uri = r.from_uri;
                  backup_key(r);
              }).errc(),
              Errc::invalid_argument);
}

TEST_F(KeyBackupTest, LeftoversOfAnInterruptedRunAreRemoved) {
    const KeyInfo key = make_key(true);
    TokenProbe("backup-a", "1111").plant_leftover();
    TokenProbe("backup-b", "2222").plant_leftover();
    EXPECT_EQ(TokenProbe("backup-b", "2222").labelled(kTransport).size(), 1u);
    EXPECT_EQ(backup_key(request(key.id)).leftovers_removed, 2u);
    expect_no_transport_objects();
}

} // namespace
} // namespace trustkey::backend::pkcs11
