#include "lib/backend/pkcs11/pkcs11_backend.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "lib/backend/key_ring.h"
#include "lib/backend/private_key.h"
#include "lib/keys/public_key.h"
#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/core/error.h"
#include "tests/lib/keys/openssl_cli.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::backend::pkcs11 {
namespace {

using test::must_run;

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

    test::SoftHsmToken token;
    test::TempDir dir;
};

// Generate, list, sign, import, delete and bad inputs are in backend_conformance_test.cpp,
// which runs them against this backend and the TPM backend alike.

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

// Resolution and signing pass the cached key, not copies: a key looked up twice is the
// same object, and a KeyRing entry points at it too.
TEST_F(Pkcs11BackendTest, CachedKeysAreSharedNotCopied) {
    auto owned = open();
    Backend* backend = owned.get();
    const KeyInfo made = backend->generate("shared", KeyType::ecdsa_p256);
    const KeyPtr first = backend->find_known(made.id);
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(backend->find_known(made.id).get(), first.get());
    KeyRing ring;
    ring.add(std::move(owned));
    EXPECT_EQ(ring.resolve(made.id).info.get(), first.get());
    EXPECT_EQ(ring.resolve("shared").info.get(), first.get());
    const auto [hash, data] = input_for(KeyType::ecdsa_p256, "shared");
    EXPECT_EQ(backend->sign(*first, hash, data).size(), 64u);
    // The backend checks what it signs: callers do not.
    EXPECT_EQ(errc_of([&] { backend->sign(*first, hash, Bytes(31, 0)); }), Errc::bad_digest_length);
    EXPECT_EQ(errc_of([&] { backend->sign(*first, HashAlg::none, data); }), Errc::unsupported_algorithm);
}

TEST_F(Pkcs11BackendTest, TheInMemoryListAnswersOnceTheKeysWereReadAndNeverAsksTheToken) {
    auto backend = open();
    const KeyInfo made = backend->generate("listed", KeyType::ecdsa_p256);
    // Until the token's keys were read in full, there is no list to answer from.
    EXPECT_FALSE(backend->cached_keys());
    EXPECT_FALSE(backend->cached_key(made.id));
    ASSERT_EQ(backend->list_keys().size(), 1u);
    ASSERT_TRUE(backend->cached_keys());
    ASSERT_EQ(backend->cached_keys()->size(), 1u);
    EXPECT_EQ(backend->cached_keys()->front()->id, made.id);
    ASSERT_TRUE(backend->cached_key(made.id));
    EXPECT_EQ((*backend->cached_key(made.id))->name, "listed");
    EXPECT_EQ(*backend->cached_key(std::string(64, 'f')), nullptr);

    // Another program deletes the key on the token: the list in memory still holds it, which
    // shows it is answered without asking the token. A fresh listing sees the token as it is.
    auto other = open();
    other->remove(*other->find_known(made.id));
    ASSERT_TRUE(backend->cached_key(made.id));
    EXPECT_NE(*backend->cached_key(made.id), nullptr);
    EXPECT_TRUE(backend->list_keys().empty());
    EXPECT_EQ(*backend->cached_key(made.id), nullptr);
    EXPECT_TRUE(backend->cached_keys()->empty());
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

TEST_F(Pkcs11BackendTest, WrongPinAtLoginKeepsTheWorkingLogin) {
    auto backend = open();
    const KeyInfo key = backend->generate("kept", KeyType::ecdsa_p256);
    ASSERT_TRUE(backend->status().logged_in);
    // Logged in through the configured PIN; a wrong PIN given to login is refused...
    try {
        backend->login(secure_from("0000"));
        ADD_FAILURE() << "a wrong PIN was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::pin_incorrect) << e.what();
    }
    // ...and the token stays logged in: listing and signing work without a new login.
    BackendStatus st = backend->status();
    EXPECT_TRUE(st.logged_in) << st.error;
    EXPECT_EQ(st.pin_refused, PinOrigin::none);
    EXPECT_TRUE(st.pin_count_low);  // the wrong PIN counted as a try
    EXPECT_EQ(backend->list_keys().size(), 1u);
    const Bytes digest = sha256(as_bytes("still logged in"));
    EXPECT_EQ(backend->sign(key, HashAlg::sha256, digest).size(), 64u);
    // The right PIN is accepted while logged in and clears the low-count flag.
    backend->login(secure_from(token.user_pin()));
    st = backend->status();
    EXPECT_TRUE(st.logged_in);
    EXPECT_FALSE(st.pin_count_low);
    EXPECT_EQ(backend->sign(key, HashAlg::sha256, digest).size(), 64u);
}

TEST_F(Pkcs11BackendTest, RefusedPinSaysWhoseItWas) {
    ::setenv(kPinVar, "0000", 1);
    auto backend = open();
    BackendStatus st = backend->status();
    EXPECT_FALSE(st.logged_in);
    EXPECT_EQ(st.pin_refused, PinOrigin::configured);
    EXPECT_NE(st.error.find("configured PIN (pin_env TRUSTKEY_TEST_PIN)"), std::string::npos) << st.error;
    EXPECT_EQ(errc_of([&] { backend->login(secure_from("9999")); }), Errc::pin_incorrect);
    st = backend->status();
    EXPECT_FALSE(st.logged_in);
    EXPECT_EQ(st.pin_refused, PinOrigin::login);
    EXPECT_NE(st.error.find("the PIN given to trustkey login"), std::string::npos) << st.error;
    EXPECT_EQ(st.error.find("configured"), std::string::npos) << st.error;
    backend->login(secure_from(token.user_pin()));
    EXPECT_EQ(backend->status().pin_refused, PinOrigin::none);
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

// Keys are made, imported and removed while other threads sign and list. SoftHSM2's
// object store fails object creation when it is read mid-write, so the backend keeps
// writes to themselves; every operation here must succeed.
TEST_F(Pkcs11BackendTest, KeysAreMadeAndRemovedWhileOthersSignAndList) {
    auto backend = make_pkcs11_backend(config({PinSource::Kind::env, kPinVar}, 4));
    KeyInfo signer = backend->generate("steady", KeyType::ecdsa_p256);
    constexpr int kWrites = 16;
    constexpr int kMaxReads = 20000;  // bound for the readers if the writer stalls
    std::atomic<bool> writing{true};
    std::atomic<int> read_failures{0}, reads{0};
    std::string first_read_error;
    std::mutex error_mutex;
    auto note = [&](const std::exception& e) {
        ++read_failures;
        std::lock_guard lock(error_mutex);
        if (first_read_error.empty()) first_read_error = e.what();
    };
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
        readers.emplace_back([&, t] {
            for (int i = 0; writing && i < kMaxReads; ++i) {
                try {
                    if (t == 2) {
                        backend->list_keys();
                    } else {
                        auto [hash, data] = input_for(signer.type, "item " + std::to_string(i));
                        Bytes sig = backend->sign(signer, hash, data);
                        if (!verify_signature(signer.type, signer.spki_der, hash, data, sig)) ++read_failures;
                    }
                    ++reads;
                } catch (const std::exception& e) {
                    note(e);
                }
            }
        });
    }
    std::vector<std::string> write_errors;
    std::vector<KeyInfo> made;
    for (int i = 0; i < kWrites; ++i) {
        try {
            if (i % 4 == 3) {
                const auto pem = dir / ("imported-" + std::to_string(i) + ".pem");
                test::generate_pem("ecdsa", pem);
                made.push_back(backend->import_key("imported-" + std::to_string(i),
                                                   PrivateKey::from_pem(test::read_text(pem), nullptr)));
            } else {
                made.push_back(backend->generate("made-" + std::to_string(i),
                                                 i % 2 == 0 ? KeyType::ecdsa_p256 : KeyType::rsa_2048));
            }
            if (i % 5 == 4) {
                backend->remove(made.back());
                made.pop_back();
            }
        } catch (const std::exception& e) {
            write_errors.push_back(std::to_string(i) + ": " + e.what());
        }
    }
    writing = false;
    for (auto& th : readers) th.join();
    EXPECT_TRUE(write_errors.empty()) << write_errors.front();
    EXPECT_EQ(read_failures.load(), 0) << first_read_error;
    EXPECT_GT(reads.load(), 0);
    auto listed = backend->list_keys();
    EXPECT_EQ(listed.size(), made.size() + 1);
    for (const KeyInfo& k : made)
        EXPECT_TRUE(std::any_of(listed.begin(), listed.end(), [&](const KeyInfo& l) { return l.id == k.id; }))
            << k.name;
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
