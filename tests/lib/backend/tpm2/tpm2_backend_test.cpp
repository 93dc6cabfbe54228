// The TPM backend's own cases, against a real swtpm: blobs missing or corrupt, the
// TPM gone and back, an unreachable TPM at start, a refused authorization, a
// persistent storage primary, and status.
#include "lib/backend/tpm2/tpm2_backend.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <fstream>

#include <gtest/gtest.h>

#include "lib/backend/private_key.h"
#include "lib/keys/public_key.h"
#include "lib/backend/tpm2/key_blob.h"
#include "lib/core/error.h"
#include "tests/lib/backend/backend_targets.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/expect_error.h"

namespace trustkey::backend::tpm2 {
namespace {

namespace fs = std::filesystem;

bool mentions(const Error& e, const std::string& text) { return std::string(e.what()).find(text) != std::string::npos; }

class Tpm2BackendTest : public ::testing::Test {
protected:
    static test::Swtpm& swtpm() { return test_targets::Tpm2Target::swtpm(); }
    static void SetUpTestSuite() { swtpm(); }
    void TearDown() override {
        if (!swtpm().running()) swtpm().start();
    }

    Tpm2Config config() const {
        Tpm2Config c;
        c.name = "tpm";
        c.tcti = swtpm().tcti();
        c.state_dir = dir / "state";
        return c;
    }
    std::unique_ptr<Backend> open() const { return make_tpm2_backend(config()); }
    fs::path blob_of(const KeyInfo& k) const { return dir / "state" / (k.id + ".tpmkey"); }
    static Bytes digest(const std::string& s) { return sha256(as_bytes(s)); }
    static bool signs(Backend& b, const KeyInfo& k) {
        Bytes d = digest("check " + k.name);
        return verify_signature(k.type, k.spki_der, HashAlg::sha256, d, b.sign(k, HashAlg::sha256, d));
    }
    static Bytes read_all(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    static void write_all(const fs::path& p, const Bytes& b) {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }

    test::TempDir dir;
};

TEST_F(Tpm2BackendTest, MissingBlobIsAClearNotFound) {
    auto backend = open();
    KeyInfo k = backend->generate("release", KeyType::ecdsa_p256);
    EXPECT_TRUE(signs(*backend, k));
    fs::remove(blob_of(k));
    Error e = test::expect_error([&] { backend->sign(k, HashAlg::sha256, digest("x")); });
    EXPECT_EQ(e.errc(), Errc::not_found) << e.what();
    EXPECT_TRUE(mentions(e, "missing from the state directory")) << e.what();
    EXPECT_TRUE(mentions(e, "release")) << e.what();
    EXPECT_TRUE(mentions(e, "backend 'tpm'")) << e.what();
    EXPECT_TRUE(backend->list_keys().empty());
}

TEST_F(Tpm2BackendTest, OwnAuthorizationValueIsKeptWithTheKeyAndAskedForAfterARestart) {
    const SecureBytes value{'k', 'e', 'y', '-', 'a', 'u', 't', 'h'};
    KeyInfo own, plain;
    {
        auto backend = open();
        own = backend->generate_with_auth("own", KeyType::rsa_2048, value);
        plain = backend->generate("plain", KeyType::ecdsa_p256);
        EXPECT_EQ(test::expect_error([&] { backend->sign(own, HashAlg::sha256, digest("x")); }).errc(), Errc::pin_required);
        backend->login_key(own, value);
        EXPECT_TRUE(signs(*backend, own));
        EXPECT_EQ(test::expect_error([&] { backend->login_key(plain, value); }).errc(), Errc::invalid_argument);
    }
    // A new backend on the same state (a daemon restart): the blob says the key has its own
    // value, which is asked for again; the other key needs none.
    auto backend = open();
    ASSERT_EQ(backend->list_keys().size(), 2u);
    EXPECT_EQ(test::expect_error([&] { backend->sign(own, HashAlg::sha256, digest("y")); }).errc(), Errc::pin_required);
    EXPECT_TRUE(signs(*backend, plain));
    backend->login_key(own, value);
    EXPECT_TRUE(signs(*backend, own));
    // Deleting the key forgets its value.
    backend->remove(own);
    EXPECT_EQ(test::expect_error([&] { backend->login_key(own, value); }).errc(), Errc::invalid_argument);
}

TEST_F(Tpm2BackendTest, CorruptBlobIsAClearError) {
    KeyInfo truncated, flipped, good;
    {
        auto backend = open();
        truncated = backend->generate("truncated", KeyType::ecdsa_p256);
        flipped = backend->generate("flipped", KeyType::rsa_2048);
        good = backend->generate("good", KeyType::ecdsa_p256);
    }
    // Cut short: not a blob at all; listing skips it, signing names it.
    Bytes t = read_all(blob_of(truncated));
    t.resize(t.size() / 2);
    write_all(blob_of(truncated), t);
    // One byte of the encrypted private area changed: well-formed, refused by the TPM's integrity check.
    Bytes f = read_all(blob_of(flipped));
    f[f.size() - 10] ^= 0x5a;
    write_all(blob_of(flipped), f);

    auto backend = open();
    auto keys = backend->list_keys();
    ASSERT_EQ(keys.size(), 2u);  // "good" and "flipped" (which still parses)
    Error e1 = test::expect_error([&] { backend->sign(truncated, HashAlg::sha256, digest("x")); });
    EXPECT_EQ(e1.errc(), Errc::key_damaged) << e1.what();
    EXPECT_TRUE(mentions(e1, "corrupt")) << e1.what();
    EXPECT_TRUE(mentions(e1, "truncated")) << e1.what();
    Error e2 = test::expect_error([&] { backend->sign(flipped, HashAlg::sha256, digest("x")); });
    EXPECT_EQ(e2.errc(), Errc::key_damaged) << e2.what();
    EXPECT_TRUE(mentions(e2, "refused the key's blob")) << e2.what();
    EXPECT_TRUE(mentions(e2, "flipped")) << e2.what();
    EXPECT_TRUE(mentions(e2, "backend 'tpm'")) << e2.what();
    // A reference to the key listing skipped is answered with why, by name or id prefix.
    for (const std::string& ref : {std::string("truncated"), truncated.id.substr(0, 10)}) {
        const std::optional<Error> why = backend->unusable_key(ref);
        ASSERT_TRUE(why.has_value()) << ref;
        EXPECT_EQ(why->errc(), Errc::key_damaged);
        EXPECT_TRUE(mentions(*why, "corrupt")) << why->what();
        EXPECT_TRUE(mentions(*why, "truncated")) << why->what();
        EXPECT_TRUE(mentions(*why, "backend 'tpm'")) << why->what();
        EXPECT_FALSE(mentions(*why, dir.path().string())) << why->what();
    }
    EXPECT_FALSE(backend->unusable_key("good").has_value());
    EXPECT_FALSE(backend->unusable_key("nosuch").has_value());
    // The other keys are untouched and still sign; nothing extra in the state directory.
    EXPECT_TRUE(signs(*backend, good));
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir / "state")) ++files;
    EXPECT_EQ(files, 3u);
}

TEST_F(Tpm2BackendTest, TpmKilledAndRestartedOnTheSameState) {
    auto backend = open();
    KeyInfo ec = backend->generate("ec", KeyType::ecdsa_p256);
    KeyInfo rsa = backend->generate("rsa", KeyType::rsa_2048);
    EXPECT_TRUE(signs(*backend, ec));
    EXPECT_TRUE(signs(*backend, rsa));
    EXPECT_TRUE(backend->status().present);

    swtpm().kill();
    Error e = test::expect_error([&] { backend->sign(ec, HashAlg::sha256, digest("while gone")); });
    EXPECT_EQ(e.errc(), Errc::token_absent) << e.what();
    EXPECT_TRUE(mentions(e, "unreachable")) << e.what();
    EXPECT_TRUE(mentions(e, "key 'ec'")) << e.what();
    EXPECT_TRUE(mentions(e, "backend 'tpm'")) << e.what();
    EXPECT_TRUE(mentions(e, swtpm().tcti())) << e.what();
    EXPECT_EQ(test::expect_error([&] { backend->generate("new", KeyType::ecdsa_p256); }).errc(), Errc::token_absent);
    BackendStatus st = backend->status();
    EXPECT_FALSE(st.present);
    EXPECT_TRUE(mentions(Error(Errc::internal, st.error), "unreachable")) << st.error;
    // Listing still works from the state directory; nothing was half-written: the two key
    // files and no temporary or partial file from the failed generate.
    EXPECT_EQ(backend->list_keys().size(), 2u);
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir / "state")) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    std::vector<std::string> expected{ec.id + ".tpmkey", rsa.id + ".tpmkey"};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(names, expected);

    swtpm().start();
    // The same backend object connects again; the primary is recreated and the blobs load.
    EXPECT_TRUE(signs(*backend, ec));
    EXPECT_TRUE(signs(*backend, rsa));
    EXPECT_TRUE(backend->status().present);
    KeyInfo after = backend->generate("after", KeyType::ecdsa_p256);
    EXPECT_TRUE(signs(*backend, after));
}

TEST_F(Tpm2BackendTest, UnreachableAtStartThenReachable) {
    Tpm2Config c = config();
    const std::uint16_t port = test::free_loopback_port();
    c.tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(port);
    std::unique_ptr<Backend> backend;
    ASSERT_NO_THROW(backend = make_tpm2_backend(c));
    BackendStatus st = backend->status();
    EXPECT_FALSE(st.present);
    EXPECT_EQ(st.kind, "tpm2");
    EXPECT_EQ(st.location, c.tcti);
    EXPECT_NE(st.error.find("unreachable"), std::string::npos) << st.error;
    Error e = test::expect_error([&] { backend->generate("k", KeyType::ecdsa_p256); });
    EXPECT_EQ(e.errc(), Errc::token_absent) << e.what();
    EXPECT_TRUE(mentions(e, "backend 'tpm'")) << e.what();
    EXPECT_TRUE(backend->list_keys().empty());
}

TEST_F(Tpm2BackendTest, UnknownTctiIsUnreachable) {
    Tpm2Config c = config();
    c.tcti = "no-such-tcti-module";
    auto backend = make_tpm2_backend(c);
    EXPECT_FALSE(backend->status().present);
    EXPECT_EQ(test::expect_error([&] { backend->generate("k", KeyType::ecdsa_p256); }).errc(), Errc::token_absent);
}

TEST_F(Tpm2BackendTest, WrongOwnerAuthorizationIsReported) {
    swtpm().tool({"tpm2_changeauth", "-c", "owner", "owner-secret"});
    auto backend = open();
    Error e = test::expect_error([&] { backend->generate("k", KeyType::ecdsa_p256); });
    EXPECT_EQ(e.errc(), Errc::pin_incorrect) << e.what();
    EXPECT_TRUE(mentions(e, "refused the authorization value")) << e.what();
    EXPECT_TRUE(mentions(e, "backend 'tpm'")) << e.what();
    EXPECT_TRUE(backend->list_keys().empty());
    swtpm().tool({"tpm2_changeauth", "-c", "owner", "-p", "owner-secret"});
    KeyInfo k = backend->generate("k", KeyType::ecdsa_p256);
    EXPECT_TRUE(signs(*backend, k));
}

TEST_F(Tpm2BackendTest, PersistentStoragePrimary) {
    Tpm2Config c = config();
    c.parent = 0x81000101;
    KeyInfo k;
    {
        auto backend = make_tpm2_backend(c);
        k = backend->generate("persisted-parent", KeyType::ecdsa_p256);
        EXPECT_TRUE(signs(*backend, k));
    }
    EXPECT_NE(swtpm().tool({"tpm2_getcap", "handles-persistent"}).find("0x81000101"), std::string::npos);
    auto again = make_tpm2_backend(c);
    EXPECT_TRUE(signs(*again, k));
    swtpm().tool({"tpm2_evictcontrol", "-C", "o", "-c", "0x81000101"});
}

TEST_F(Tpm2BackendTest, KeysUnderAnotherPrimaryAreRefused) {
    // A blob made under a persistent primary with another template does not load under
    // the default primary: a clear error, not a wrong signature.
    Tpm2Config c = config();
    auto backend = make_tpm2_backend(c);
    KeyInfo k = backend->generate("mine", KeyType::ecdsa_p256);
    swtpm().tool({"tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", (dir / "other.ctx").string()});
    swtpm().tool({"tpm2_evictcontrol", "-C", "o", "-c", (dir / "other.ctx").string(), "0x81000102"});
    swtpm().tool({"tpm2_flushcontext", "-t"});
    c.parent = 0x81000102;
    auto other = make_tpm2_backend(c);
    Error e = test::expect_error([&] { other->sign(k, HashAlg::sha256, digest("x")); });
    EXPECT_EQ(e.errc(), Errc::key_damaged) << e.what();
    EXPECT_TRUE(mentions(e, "mine")) << e.what();
    swtpm().tool({"tpm2_evictcontrol", "-C", "o", "-c", "0x81000102"});
    EXPECT_TRUE(signs(*backend, k));
}

TEST_F(Tpm2BackendTest, StatusOfAReachableTpm) {
    auto backend = open();
    backend->generate("one", KeyType::ecdsa_p256);
    BackendStatus st = backend->status();
    EXPECT_TRUE(st.present);
    EXPECT_EQ(st.name, "tpm");
    EXPECT_EQ(st.kind, "tpm2");
    EXPECT_EQ(st.location, swtpm().tcti());
    EXPECT_EQ(st.manufacturer, "IBM");  // swtpm (libtpms) reports IBM
    EXPECT_EQ(st.key_count, 1u);
    EXPECT_FALSE(st.pin_locked);
    EXPECT_TRUE(st.error.empty()) << st.error;
    EXPECT_EQ(test::expect_error([&] { backend->login(secure_from("1234")); }).errc(), Errc::invalid_argument);
}

TEST_F(Tpm2BackendTest, NoObjectsLeftLoadedBeyondTheCache) {
    // Without a resource manager the TPM has a few object slots: signing with many keys
    // in turn must keep flushing (swtpm answers TPM_RC_OBJECT_MEMORY otherwise).
    Tpm2Config c = config();
    c.loaded_keys = 1;
    auto backend = make_tpm2_backend(c);
    std::vector<KeyInfo> keys;
    for (int i = 0; i < 5; ++i) keys.push_back(backend->generate("k" + std::to_string(i), KeyType::ecdsa_p256));
    for (int round = 0; round < 2; ++round)
        for (const auto& k : keys) EXPECT_TRUE(signs(*backend, k)) << k.name;
    backend.reset();
    // Everything this backend loaded is flushed: no transient objects remain.
    EXPECT_EQ(swtpm().tool({"tpm2_getcap", "handles-transient"}).find("0x80"), std::string::npos);
}

TEST_F(Tpm2BackendTest, KeyAuthValueThroughAnHmacSession) {
    // Room for the failures below before dictionary-attack lockout.
    swtpm().tool({"tpm2_dictionarylockout", "--setup-parameters", "--max-tries=32", "--recovery-time=600",
                  "--lockout-recovery-time=1"});
    ::setenv("TRUSTKEY_TEST_TPM_AUTH", "key-secret", 1);
    Tpm2Config c = config();
    c.key_auth = {AuthSource::Kind::env, "TRUSTKEY_TEST_TPM_AUTH"};
    KeyInfo k, moved;
    {
        auto backend = make_tpm2_backend(c);
        k = backend->generate("guarded", KeyType::ecdsa_p256);
        EXPECT_TRUE(signs(*backend, k));
        // A key loaded with the value set needs it too.
        test::generate_pem("ecdsa", dir / "k.pem");
        moved = backend->import_key("moved", PrivateKey::from_pem(test::read_text(dir / "k.pem"), nullptr));
        EXPECT_TRUE(signs(*backend, moved));
    }
    {
        // The same keys through a backend without the value: the TPM refuses them.
        auto without = open();
        Error e0 = test::expect_error([&] { without->sign(k, HashAlg::sha256, digest("no auth")); });
        EXPECT_EQ(e0.errc(), Errc::pin_incorrect) << e0.what();
        EXPECT_TRUE(mentions(e0, "guarded")) << e0.what();
        EXPECT_EQ(test::expect_error([&] { without->sign(moved, HashAlg::sha256, digest("x")); }).errc(), Errc::pin_incorrect);
    }
    auto backend = make_tpm2_backend(c);
    // A wrong value is refused once by the TPM, then not sent again.
    ::setenv("TRUSTKEY_TEST_TPM_AUTH", "wrong", 1);
    Error e1 = test::expect_error([&] { backend->sign(k, HashAlg::sha256, digest("wrong")); });
    EXPECT_EQ(e1.errc(), Errc::pin_incorrect) << e1.what();
    EXPECT_TRUE(mentions(e1, "refused the authorization value")) << e1.what();
    EXPECT_TRUE(mentions(e1, "backend 'tpm'")) << e1.what();
    const std::string counter_before = swtpm().tool({"tpm2_getcap", "properties-variable"});
    Error e2 = test::expect_error([&] { backend->sign(k, HashAlg::sha256, digest("wrong again")); });
    EXPECT_EQ(e2.errc(), Errc::pin_incorrect) << e2.what();
    EXPECT_TRUE(mentions(e2, "not sent again")) << e2.what();
    EXPECT_EQ(swtpm().tool({"tpm2_getcap", "properties-variable"}), counter_before);  // no new DA failure

    ::setenv("TRUSTKEY_TEST_TPM_AUTH", "key-secret", 1);
    EXPECT_TRUE(signs(*backend, k));
    EXPECT_TRUE(signs(*backend, moved));
    ::unsetenv("TRUSTKEY_TEST_TPM_AUTH");
    EXPECT_EQ(test::expect_error([&] { backend->sign(k, HashAlg::sha256, digest("x")); }).errc(), Errc::pin_required);
    swtpm().tool({"tpm2_dictionarylockout", "--clear-lockout"});  // the failures above, for the next case
}

TEST_F(Tpm2BackendTest, LockoutIsReportedClearly) {
    // One failure locks this TPM out (counting from zero).
    swtpm().tool({"tpm2_dictionarylockout", "--clear-lockout"});
    swtpm().tool({"tpm2_dictionarylockout", "--setup-parameters", "--max-tries=1", "--recovery-time=600",
                  "--lockout-recovery-time=1"});
    ::setenv("TRUSTKEY_TEST_TPM_AUTH", "key-secret", 1);
    Tpm2Config c = config();
    c.key_auth = {AuthSource::Kind::env, "TRUSTKEY_TEST_TPM_AUTH"};
    auto backend = make_tpm2_backend(c);
    KeyInfo k = backend->generate("guarded", KeyType::ecdsa_p256);
    EXPECT_TRUE(signs(*backend, k));
    EXPECT_FALSE(backend->status().pin_locked);
    ::setenv("TRUSTKEY_TEST_TPM_AUTH", "wrong-1", 1);
    EXPECT_EQ(test::expect_error([&] { backend->sign(k, HashAlg::sha256, digest("a")); }).errc(), Errc::pin_incorrect);
    ::setenv("TRUSTKEY_TEST_TPM_AUTH", "key-secret", 1);
    Error e = test::expect_error([&] { backend->sign(k, HashAlg::sha256, digest("b")); });
    EXPECT_EQ(e.errc(), Errc::pin_locked) << e.what();
    EXPECT_TRUE(mentions(e, "dictionary-attack lockout")) << e.what();
    EXPECT_TRUE(mentions(e, "guarded")) << e.what();
    EXPECT_TRUE(backend->status().pin_locked);
    // Cleared with the lockout authorization: the right value works again.
    swtpm().tool({"tpm2_dictionarylockout", "--clear-lockout"});
    EXPECT_FALSE(backend->status().pin_locked);
    EXPECT_TRUE(signs(*backend, k));
    ::unsetenv("TRUSTKEY_TEST_TPM_AUTH");
    swtpm().tool({"tpm2_dictionarylockout", "--setup-parameters", "--max-tries=32", "--recovery-time=600",
                  "--lockout-recovery-time=1"});
}

TEST_F(Tpm2BackendTest, ConcurrentSigningSharesOneContext) {
    // Threads take turns on the one ESYS context; every signature is from the right key.
    auto backend = open();
    KeyInfo ec = backend->generate("ec", KeyType::ecdsa_p256);
    KeyInfo rsa = backend->generate("rsa", KeyType::rsa_2048);
    constexpr int kThreads = 4, kPerThread = 15;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const KeyInfo& k = t % 2 == 0 ? ec : rsa;
            for (int i = 0; i < kPerThread; ++i) {
                const Bytes d = digest("thread " + std::to_string(t) + " item " + std::to_string(i));
                try {
                    if (!verify_signature(k.type, k.spki_der, HashAlg::sha256, d, backend->sign(k, HashAlg::sha256, d)))
                        ++failures;
                } catch (const std::exception&) {
                    ++failures;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
}

} // namespace
} // namespace trustkey::backend::tpm2
