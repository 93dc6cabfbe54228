#include "daemon/backend/pkcs11/pkcs11_backend.h"

#include <cstdlib>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/ecdsa.h>

#include "daemon/backend/private_key.h"
#include "daemon/backend/public_key.h"
#include "daemon/backend/pkcs11/module.h"
#include "daemon/backend/pkcs11/pkcs11_config.h"
#include "daemon/core/error.h"
#include "tests/daemon/backend/openssl_cli.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::backend {
static void PrintTo(KeyType t, std::ostream* os) { *os << key_type_name(t); }
} // namespace trustkey::backend

namespace trustkey::backend::pkcs11 {
namespace {

using test::must_run;
using test::shell_quote;

constexpr const char* kPinVar = "TRUSTKEY_TEST_PIN";

template <typename F>
Errc errc_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.errc();
    }
    ADD_FAILURE() << "no error thrown";
    return Errc::internal;
}

class Pkcs11BackendTest : public ::testing::Test {
protected:
    void SetUp() override { ::setenv(kPinVar, token.user_pin().c_str(), 1); }

    Pkcs11Config config(PinSource pin = {PinSource::Kind::env, kPinVar}, std::size_t sessions = 4) {
        Pkcs11Config c;
        c.name = "test";
        c.module = test::SoftHsmToken::module();
        c.token_uri = token.uri();
        c.pin = std::move(pin);
        c.sessions = sessions;
        return c;
    }
    std::unique_ptr<Backend> open(PinSource pin = {PinSource::Kind::env, kPinVar}) {
        return make_pkcs11_backend(config(std::move(pin)));
    }
    // The data a key signs: a digest, or the message for ed25519.
    static std::pair<HashAlg, Bytes> input_for(KeyType type, std::string_view message) {
        if (type == KeyType::ed25519) return {HashAlg::none, Bytes(message.begin(), message.end())};
        return {HashAlg::sha256, sha256(as_bytes(message))};
    }
    // Verifies with the openssl command line on the key's public PEM.
    void cli_verify(const KeyInfo& k, std::string_view message, const Bytes& sig) {
        auto pub = dir / "pub.pem", msg = dir / "msg", sig_path = dir / "sig";
        {
            std::string pem = spki_to_pem(k.spki_der);
            test::write_bytes(pub, as_bytes(pem));
        }
        test::write_bytes(msg, as_bytes(message));
        std::string p = shell_quote(pub.string()), m = shell_quote(msg.string()), s = shell_quote(sig_path.string());
        if (k.type == KeyType::ecdsa_p256) {
            ASSERT_EQ(sig.size(), 64u);
            ECDSA_SIG* es = ECDSA_SIG_new();
            ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), 32, nullptr), BN_bin2bn(sig.data() + 32, 32, nullptr));
            unsigned char* der = nullptr;
            int len = i2d_ECDSA_SIG(es, &der);
            ECDSA_SIG_free(es);
            ASSERT_GT(len, 0);
            test::write_bytes(sig_path, std::span<const std::uint8_t>(der, static_cast<std::size_t>(len)));
            OPENSSL_free(der);
            EXPECT_NE(must_run("openssl dgst -sha256 -verify " + p + " -signature " + s + " " + m).find("Verified OK"),
                      std::string::npos);
        } else if (k.type == KeyType::ed25519) {
            test::write_bytes(sig_path, sig);
            EXPECT_NE(must_run("openssl pkeyutl -verify -pubin -inkey " + p + " -rawin -in " + m + " -sigfile " + s)
                          .find("Signature Verified Successfully"),
                      std::string::npos);
        } else {
            test::write_bytes(sig_path, sig);
            EXPECT_NE(must_run("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 "
                               "-sigopt rsa_mgf1_md:sha256 -verify " + p + " -signature " + s + " " + m)
                          .find("Verified OK"),
                      std::string::npos);
        }
    }
    static bool listed(const std::vector<KeyInfo>& keys, const KeyInfo& k) {
        for (const auto& x : keys)
            if (x.id == k.id && x.name == k.name && x.type == k.type && x.spki_der == k.spki_der) return true;
        return false;
    }

    test::SoftHsmToken token;
    test::TempDir dir;
};

class GenerateEachType : public Pkcs11BackendTest, public ::testing::WithParamInterface<KeyType> {};

TEST_P(GenerateEachType, GenerateListSignVerify) {
    KeyType type = GetParam();
    auto backend = open();
    KeyInfo k = backend->generate("key-" + std::string(key_type_name(type)), type);
    EXPECT_EQ(k.type, type);
    EXPECT_EQ(k.backend, "test");
    EXPECT_EQ(key_type_of_spki(k.spki_der), type);
    // The id computed by the openssl CLI from the public key the token holds.
    test::write_bytes(dir / "gen.pem", as_bytes(spki_to_pem(k.spki_der)));
    EXPECT_EQ(k.id, test::cli_key_id(dir / "gen.pem", true, std::string(tuf_key_type(type))));
    EXPECT_TRUE(listed(backend->list_keys(), k));

    std::string message = "{\"_type\":\"Targets\",\"version\":1}";
    auto [hash, data] = input_for(type, message);
    Bytes sig = backend->sign(k, hash, data);
    EXPECT_EQ(sig.size(), signature_size(type));
    EXPECT_TRUE(verify_signature(type, k.spki_der, hash, data, sig));
    Bytes other = data;
    other[0] ^= 1;
    EXPECT_FALSE(verify_signature(type, k.spki_der, hash, other, sig));
    cli_verify(k, message, sig);

    // A second backend instance (fresh cache) finds the key by its CKA_ID-tagged objects.
    auto again = open();
    EXPECT_TRUE(listed(again->list_keys(), k));
    // The objects carry CKA_ID = the raw key id, visible to other PKCS#11 tools.
    std::string objects = must_run("pkcs11-tool --module " + test::SoftHsmToken::module() + " --login --pin " +
                                   token.user_pin() + " --list-objects");
    EXPECT_NE(objects.find(k.id), std::string::npos) << objects;
}

INSTANTIATE_TEST_SUITE_P(Types, GenerateEachType,
                         ::testing::Values(KeyType::ecdsa_p256, KeyType::rsa_2048, KeyType::rsa_4096,
                                           KeyType::ed25519),
                         [](const auto& info) { return std::string(key_type_name(info.param)); });

struct ImportCase {
    const char* name;
    const char* kind;
    const char* convert;  // openssl command turning k.pem into in.pem ("" = use as is)
    bool encrypted;
};

void PrintTo(const ImportCase& c, std::ostream* os) { *os << c.name; }

class ImportEachForm : public Pkcs11BackendTest, public ::testing::WithParamInterface<ImportCase> {};

TEST_P(ImportEachForm, ImportThenSign) {
    const ImportCase& c = GetParam();
    test::generate_pem(c.kind, dir / "k.pem");
    std::string in = (dir / "in.pem").string();
    std::string kpem = (dir / "k.pem").string();
    if (*c.convert)
        must_run(std::string("openssl ") + c.convert + " -in " + shell_quote(kpem) + " -out " + shell_quote(in));
    else
        must_run("cp " + shell_quote(kpem) + " " + shell_quote(in));
    std::string pem = test::read_text(in);
    auto eol = pem.find('\n');
    pem = pem.substr(0, eol + 1) + "role: targets/releases\n\n" + pem.substr(eol + 1);
    SecureBytes pass = secure_from("pw1234");
    PrivateKey key = PrivateKey::from_pem(pem, c.encrypted ? &pass : nullptr);

    auto backend = open();
    KeyInfo k = backend->import_key("imported", key);
    EXPECT_EQ(k.id, test::cli_key_id(dir / "k.pem", false, std::string(tuf_key_type(key.type()))));
    EXPECT_EQ(k.spki_der, key.spki_der());
    EXPECT_TRUE(listed(backend->list_keys(), k));
    std::string message = "imported key message";
    auto [hash, data] = input_for(k.type, message);
    Bytes sig = backend->sign(k, hash, data);
    EXPECT_TRUE(verify_signature(k.type, k.spki_der, hash, data, sig));
    cli_verify(k, message, sig);
    // Importing the same key again under another name is refused.
    EXPECT_EQ(errc_of([&] { backend->import_key("again", key); }), Errc::already_exists);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, ImportEachForm,
    ::testing::Values(ImportCase{"pkcs8_ecdsa", "ecdsa", "", false}, ImportCase{"pkcs8_rsa", "rsa", "", false},
                      ImportCase{"pkcs8_ed25519", "ed25519", "", false},
                      ImportCase{"encrypted_ecdsa", "ecdsa", "pkcs8 -topk8 -v2 aes-256-cbc -passout pass:pw1234", true},
                      ImportCase{"encrypted_ed25519", "ed25519", "pkcs8 -topk8 -v2 aes-256-cbc -passout pass:pw1234",
                                 true},
                      ImportCase{"sec1_ecdsa", "ecdsa", "ec", false},
                      ImportCase{"pkcs1_rsa", "rsa", "rsa -traditional", false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(Pkcs11BackendTest, RemoveDeletesBothObjects) {
    auto backend = open();
    KeyInfo k = backend->generate("doomed", KeyType::ecdsa_p256);
    KeyInfo keep = backend->generate("kept", KeyType::ecdsa_p256);
    backend->remove(k);
    auto keys = backend->list_keys();
    EXPECT_FALSE(listed(keys, k));
    EXPECT_TRUE(listed(keys, keep));
    EXPECT_EQ(errc_of([&] { backend->sign(k, HashAlg::sha256, sha256(as_bytes("x"))); }), Errc::not_found);
    std::string objects = must_run("pkcs11-tool --module " + test::SoftHsmToken::module() + " --login --pin " +
                                   token.user_pin() + " --list-objects");
    EXPECT_EQ(objects.find("doomed"), std::string::npos) << objects;
    EXPECT_NE(objects.find("kept"), std::string::npos) << objects;
    // The name is free again.
    EXPECT_NO_THROW(backend->generate("doomed", KeyType::ed25519));
}

TEST_F(Pkcs11BackendTest, KeyRemovedElsewhereIsNotFound) {
    auto signer = open();
    auto other = open();
    KeyInfo k = signer->generate("shared", KeyType::ecdsa_p256);
    Bytes digest = sha256(as_bytes("before"));
    EXPECT_TRUE(verify_signature(k.type, k.spki_der, HashAlg::sha256, digest, signer->sign(k, HashAlg::sha256, digest)));
    other->remove(k);
    EXPECT_EQ(errc_of([&] { signer->sign(k, HashAlg::sha256, digest); }), Errc::not_found);
    EXPECT_TRUE(signer->list_keys().empty());
}

TEST_F(Pkcs11BackendTest, NameClashAndBadNames) {
    auto backend = open();
    backend->generate("release", KeyType::ecdsa_p256);
    EXPECT_EQ(errc_of([&] { backend->generate("release", KeyType::ed25519); }), Errc::already_exists);
    test::generate_pem("ecdsa", dir / "k.pem");
    PrivateKey key = PrivateKey::from_pem(test::read_text(dir / "k.pem"), nullptr);
    EXPECT_EQ(errc_of([&] { backend->import_key("release", key); }), Errc::already_exists);
    EXPECT_EQ(errc_of([&] { backend->generate("", KeyType::ecdsa_p256); }), Errc::invalid_argument);
    EXPECT_EQ(errc_of([&] { backend->generate("a/b", KeyType::ecdsa_p256); }), Errc::invalid_argument);
    EXPECT_EQ(errc_of([&] { backend->generate("line\nbreak", KeyType::ecdsa_p256); }), Errc::invalid_argument);
    EXPECT_EQ(errc_of([&] { backend->generate(std::string(129, 'n'), KeyType::ecdsa_p256); }),
              Errc::invalid_argument);
    EXPECT_NO_THROW(backend->generate(std::string(128, 'n'), KeyType::ecdsa_p256));
    EXPECT_EQ(backend->list_keys().size(), 2u);
}

TEST_F(Pkcs11BackendTest, WrongHashOrDigestLength) {
    auto backend = open();
    KeyInfo ec = backend->generate("ec", KeyType::ecdsa_p256);
    KeyInfo ed = backend->generate("ed", KeyType::ed25519);
    Bytes short_digest(31, 1), long_digest(33, 1);
    EXPECT_EQ(errc_of([&] { backend->sign(ec, HashAlg::sha256, short_digest); }), Errc::bad_digest_length);
    EXPECT_EQ(errc_of([&] { backend->sign(ec, HashAlg::sha256, long_digest); }), Errc::bad_digest_length);
    EXPECT_EQ(errc_of([&] { backend->sign(ec, HashAlg::none, Bytes(32, 1)); }), Errc::unsupported_algorithm);
    EXPECT_EQ(errc_of([&] { backend->sign(ed, HashAlg::sha256, Bytes(32, 1)); }), Errc::unsupported_algorithm);
    std::vector<Bytes> batch{Bytes(32, 1), Bytes(5, 1)};
    EXPECT_EQ(errc_of([&] { backend->sign_batch(ec, HashAlg::sha256, batch); }), Errc::bad_digest_length);
}

TEST_F(Pkcs11BackendTest, SignBatch) {
    auto backend = open();
    KeyInfo k = backend->generate("batch", KeyType::ecdsa_p256);
    std::vector<Bytes> digests;
    for (int i = 0; i < 20; ++i) digests.push_back(sha256(as_bytes("item " + std::to_string(i))));
    auto sigs = backend->sign_batch(k, HashAlg::sha256, digests);
    ASSERT_EQ(sigs.size(), digests.size());
    for (std::size_t i = 0; i < sigs.size(); ++i)
        EXPECT_TRUE(verify_signature(k.type, k.spki_der, HashAlg::sha256, digests[i], sigs[i])) << i;
    EXPECT_FALSE(verify_signature(k.type, k.spki_der, HashAlg::sha256, digests[1], sigs[0]));
}

TEST_F(Pkcs11BackendTest, StatusOfAPresentToken) {
    auto backend = open();
    backend->generate("one", KeyType::ecdsa_p256);
    BackendStatus st = backend->status();
    EXPECT_TRUE(st.present);
    EXPECT_TRUE(st.logged_in);
    EXPECT_EQ(st.name, "test");
    EXPECT_EQ(st.kind, "pkcs11");
    EXPECT_EQ(st.token_label, token.label());
    EXPECT_EQ(st.location, test::SoftHsmToken::module());
    EXPECT_EQ(st.key_count, 1u);
    EXPECT_EQ(st.sessions, 4u);
    EXPECT_FALSE(st.pin_locked);
    EXPECT_TRUE(st.error.empty()) << st.error;
}

TEST_F(Pkcs11BackendTest, AbsentTokenDoesNotThrowFromFactory) {
    Pkcs11Config c = config();
    c.token_uri = "pkcs11:token=no-such-token";
    std::unique_ptr<Backend> backend;
    ASSERT_NO_THROW(backend = make_pkcs11_backend(c));
    BackendStatus st = backend->status();
    EXPECT_FALSE(st.present);
    EXPECT_FALSE(st.error.empty());
    EXPECT_EQ(errc_of([&] { backend->list_keys(); }), Errc::token_absent);
    EXPECT_EQ(errc_of([&] { backend->generate("x", KeyType::ecdsa_p256); }), Errc::token_absent);
}

TEST_F(Pkcs11BackendTest, TokenIsFoundWhenItAppearsLater) {
    Pkcs11Config c = config();
    c.token_uri = "pkcs11:token=later";
    auto backend = make_pkcs11_backend(c);
    EXPECT_EQ(errc_of([&] { backend->list_keys(); }), Errc::token_absent);
    EXPECT_FALSE(backend->status().present);

    // A token labelled "later" is initialized on the free slot through the same module.
    auto module = Module::open(test::SoftHsmToken::module());
    CK_FUNCTION_LIST* fn = module->fn();
    auto find_slot = [&](bool initialized) {
        CK_ULONG count = 0;
        EXPECT_EQ(fn->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_OK);
        std::vector<CK_SLOT_ID> slots(count);
        EXPECT_EQ(fn->C_GetSlotList(CK_TRUE, slots.data(), &count), CKR_OK);
        for (CK_ULONG i = 0; i < count; ++i) {
            CK_TOKEN_INFO info{};
            EXPECT_EQ(fn->C_GetTokenInfo(slots[i], &info), CKR_OK);
            bool init = (info.flags & CKF_TOKEN_INITIALIZED) != 0;
            if (init == initialized && (!init || std::string(reinterpret_cast<char*>(info.label), 6) == "later "))
                return slots[i];
        }
        return static_cast<CK_SLOT_ID>(-1);
    };
    CK_SLOT_ID free_slot = find_slot(false);
    ASSERT_NE(free_slot, static_cast<CK_SLOT_ID>(-1));
    std::string so = token.so_pin(), user = token.user_pin();
    CK_UTF8CHAR label[32];
    std::memset(label, ' ', sizeof label);
    std::memcpy(label, "later", 5);
    ASSERT_EQ(fn->C_InitToken(free_slot, reinterpret_cast<CK_UTF8CHAR*>(so.data()), so.size(), label), CKR_OK);
    CK_SLOT_ID slot = find_slot(true);
    ASSERT_NE(slot, static_cast<CK_SLOT_ID>(-1));
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    ASSERT_EQ(fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s), CKR_OK);
    ASSERT_EQ(fn->C_Login(s, CKU_SO, reinterpret_cast<CK_UTF8CHAR*>(so.data()), so.size()), CKR_OK);
    ASSERT_EQ(fn->C_InitPIN(s, reinterpret_cast<CK_UTF8CHAR*>(user.data()), user.size()), CKR_OK);
    fn->C_Logout(s);
    fn->C_CloseSession(s);

    KeyInfo k = backend->generate("late", KeyType::ecdsa_p256);
    EXPECT_EQ(backend->list_keys().size(), 1u);
    BackendStatus st = backend->status();
    EXPECT_TRUE(st.present);
    EXPECT_EQ(st.token_label, "later");
    EXPECT_TRUE(st.logged_in);
}

TEST_F(Pkcs11BackendTest, BadUriIsConfigError) {
    Pkcs11Config c = config();
    c.token_uri = "http://example.com";
    EXPECT_EQ(errc_of([&] { make_pkcs11_backend(c); }), Errc::config);
    c = config();
    c.module = "/nonexistent/module.so";
    EXPECT_EQ(errc_of([&] { make_pkcs11_backend(c); }), Errc::config);
}

TEST_F(Pkcs11BackendTest, WrongPinIsNotRetried) {
    {
        auto setup = open();
        setup->generate("k", KeyType::ecdsa_p256);
    }
    ::setenv(kPinVar, "0000", 1);
    std::unique_ptr<Backend> backend;
    ASSERT_NO_THROW(backend = open());
    BackendStatus st = backend->status();
    EXPECT_TRUE(st.present);
    EXPECT_FALSE(st.logged_in);
    EXPECT_NE(st.error.find("PIN"), std::string::npos) << st.error;
    EXPECT_TRUE(st.pin_count_low);  // SoftHSM2 flags the failed attempt
    EXPECT_FALSE(st.pin_locked);
    EXPECT_EQ(errc_of([&] { backend->list_keys(); }), Errc::pin_incorrect);
    // The right PIN appears in the source: still no automatic retry.
    ::setenv(kPinVar, token.user_pin().c_str(), 1);
    EXPECT_EQ(errc_of([&] { backend->list_keys(); }), Errc::pin_incorrect);
    EXPECT_FALSE(backend->status().logged_in);
    // An explicit login clears it.
    EXPECT_EQ(errc_of([&] { backend->login(secure_from("9999")); }), Errc::pin_incorrect);
    backend->login(secure_from(token.user_pin()));
    EXPECT_EQ(backend->list_keys().size(), 1u);
    EXPECT_TRUE(backend->status().logged_in);
}

TEST_F(Pkcs11BackendTest, NoPinSourceNeedsExplicitLogin) {
    auto backend = open(PinSource{});
    EXPECT_EQ(errc_of([&] { backend->list_keys(); }), Errc::pin_required);
    EXPECT_FALSE(backend->status().logged_in);
    backend->login(secure_from(token.user_pin()));
    EXPECT_NO_THROW(backend->generate("after-login", KeyType::ed25519));
    EXPECT_EQ(backend->list_keys().size(), 1u);
}

TEST_F(Pkcs11BackendTest, PinFromFile) {
    auto plain = dir / "pin";
    test::write_bytes(plain, as_bytes(token.user_pin() + "\n"));
    auto backend = open(PinSource{PinSource::Kind::file, plain.string()});
    EXPECT_NO_THROW(backend->generate("filepin", KeyType::ecdsa_p256));
    auto keyed = dir / "pins";
    test::write_bytes(keyed, as_bytes("so_pin=" + token.so_pin() + "\nuser_pin=" + token.user_pin() + "\n"));
    auto second = open(PinSource{PinSource::Kind::file, keyed.string()});
    EXPECT_EQ(second->list_keys().size(), 1u);
}

TEST_F(Pkcs11BackendTest, ConcurrentSigningThroughThePool) {
    auto backend = make_pkcs11_backend(config({PinSource::Kind::env, kPinVar}, 2));
    KeyInfo ec = backend->generate("ec", KeyType::ecdsa_p256);
    KeyInfo ed = backend->generate("ed", KeyType::ed25519);
    constexpr int kPerThread = 150;
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            const KeyInfo& k = t % 2 == 0 ? ec : ed;
            for (int i = 0; i < kPerThread; ++i) {
                std::string msg = "thread " + std::to_string(t) + " item " + std::to_string(i);
                auto [hash, data] = input_for(k.type, msg);
                try {
                    Bytes sig = backend->sign(k, hash, data);
                    if (!verify_signature(k.type, k.spki_der, hash, data, sig)) ++failures[static_cast<std::size_t>(t)];
                } catch (const std::exception&) {
                    ++failures[static_cast<std::size_t>(t)];
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[static_cast<std::size_t>(t)], 0) << "thread " << t;
}

TEST_F(Pkcs11BackendTest, KeysMadeByOtherToolsAreListed) {
    must_run("pkcs11-tool --module " + test::SoftHsmToken::module() + " --login --pin " + token.user_pin() +
             " --keypairgen --key-type EC:prime256v1 --label foreign --id 01");
    auto backend = open();
    auto keys = backend->list_keys();
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].name, "foreign");
    EXPECT_EQ(keys[0].type, KeyType::ecdsa_p256);
    EXPECT_EQ(keys[0].id, tuf_key_id(KeyType::ecdsa_p256, keys[0].spki_der));
    Bytes digest = sha256(as_bytes("foreign"));
    Bytes sig = backend->sign(keys[0], HashAlg::sha256, digest);
    EXPECT_TRUE(verify_signature(KeyType::ecdsa_p256, keys[0].spki_der, HashAlg::sha256, digest, sig));
}

} // namespace
} // namespace trustkey::backend::pkcs11
