// One suite, every backend: generate, list, public key, sign + OpenSSL verify,
// import, delete and bad inputs, against a real SoftHSM2 token and a real swtpm.
#include <algorithm>

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "lib/backend/key_metadata.h"
#include "lib/backend/private_key.h"
#include "lib/keys/public_key.h"
#include "lib/core/error.h"
#include "tests/lib/backend/backend_targets.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/expect_error.h"

namespace trustkey::backend {
namespace {

using test::must_run;
using test::shell_quote;

template <typename F>
Errc errc_of(F&& f) {
    return test::expect_error(std::forward<F>(f)).errc();
}

template <typename Target>
class BackendConformance : public ::testing::Test {
protected:
    static void SetUpTestSuite() { Target::SetUpTestSuite(); }

    // The data a key signs: a digest, or the message for ed25519.
    static std::pair<HashAlg, Bytes> input_for(KeyType type, std::string_view message) {
        if (type == KeyType::ed25519) return {HashAlg::none, Bytes(message.begin(), message.end())};
        return {HashAlg::sha256, sha256(as_bytes(message))};
    }
    // Verifies with the openssl command line on the key's public PEM.
    void cli_verify(const KeyInfo& k, std::string_view message, const Bytes& sig) {
        auto pub = dir / "pub.pem", msg = dir / "msg", sig_path = dir / "sig";
        test::write_bytes(pub, as_bytes(spki_to_pem(k.spki_der)));
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
            // Salt length 32 (the hash length), as notary verifies.
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

    void generate_list_sign_verify(KeyType type) {
        auto backend = target.open();
        const std::string name = "key-" + std::string(key_type_name(type));
        if (!Target::supports(type)) {
            // A clear refusal naming the backend; nothing is left behind.
            Error e = test::expect_error([&] { backend->generate(name, type); });
            EXPECT_EQ(e.errc(), Errc::unsupported_algorithm) << e.what();
            EXPECT_NE(std::string(e.what()).find("test"), std::string::npos) << e.what();
            EXPECT_TRUE(backend->list_keys().empty());
            return;
        }
        KeyInfo k = backend->generate(name, type);
        EXPECT_EQ(k.type, type);
        EXPECT_EQ(k.backend, "test");
        EXPECT_EQ(k.name, name);
        EXPECT_EQ(key_type_of_spki(k.spki_der), type);
        // The id computed by the openssl CLI from the public key the backend holds.
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

        // A second backend instance (fresh cache) finds the key and signs with it. The first
        // goes before: a TPM without a resource manager has room for one daemon's objects.
        backend.reset();
        auto again = target.open();
        EXPECT_TRUE(listed(again->list_keys(), k));
        Bytes sig2 = again->sign(k, hash, data);
        EXPECT_TRUE(verify_signature(type, k.spki_der, hash, data, sig2));
        target.check_stored(k);
    }

    Target target;
    test::TempDir dir;
};

using Targets = ::testing::Types<test_targets::Pkcs11Target, test_targets::Tpm2Target>;
class TargetNames {
public:
    template <typename T>
    static std::string GetName(int) {
        return T::kKind;
    }
};
TYPED_TEST_SUITE(BackendConformance, Targets, TargetNames);

TYPED_TEST(BackendConformance, GenerateListSignVerifyEcdsa) { this->generate_list_sign_verify(KeyType::ecdsa_p256); }
TYPED_TEST(BackendConformance, GenerateListSignVerifyRsa) { this->generate_list_sign_verify(KeyType::rsa_2048); }
TYPED_TEST(BackendConformance, GenerateListSignVerifyRsa4096) { this->generate_list_sign_verify(KeyType::rsa_4096); }
TYPED_TEST(BackendConformance, GenerateListSignVerifyEd25519) { this->generate_list_sign_verify(KeyType::ed25519); }

struct ImportCase {
    const char* name;
    const char* kind;
    const char* convert;  // openssl command turning k.pem into in.pem ("" = use as is)
    bool encrypted;
};

constexpr ImportCase kImportCases[] = {
    {"pkcs8_ecdsa", "ecdsa", "", false},
    {"pkcs8_rsa", "rsa", "", false},
    {"pkcs8_ed25519", "ed25519", "", false},
    {"encrypted_ecdsa", "ecdsa", "pkcs8 -topk8 -v2 aes-256-cbc -passout pass:pw1234", true},
    {"encrypted_ed25519", "ed25519", "pkcs8 -topk8 -v2 aes-256-cbc -passout pass:pw1234", true},
    {"sec1_ecdsa", "ecdsa", "ec", false},
    {"pkcs1_rsa", "rsa", "rsa -traditional", false},
};

TYPED_TEST(BackendConformance, ImportThenSign) {
    for (const ImportCase& c : kImportCases) {
        SCOPED_TRACE(c.name);
        test::TempDir work;
        test::generate_pem(c.kind, work / "k.pem");
        std::string in = (work / "in.pem").string();
        std::string kpem = (work / "k.pem").string();
        if (*c.convert)
            must_run(std::string("openssl ") + c.convert + " -in " + shell_quote(kpem) + " -out " + shell_quote(in));
        else
            must_run("cp " + shell_quote(kpem) + " " + shell_quote(in));
        std::string pem = test::read_text(in);
        auto eol = pem.find('\n');
        pem = pem.substr(0, eol + 1) + "role: targets/releases\n\n" + pem.substr(eol + 1);
        SecureBytes pass = secure_from("pw1234");
        PrivateKey key = PrivateKey::from_pem(pem, c.encrypted ? &pass : nullptr);

        auto backend = this->target.open();
        const std::string name = std::string("imported-") + c.name;
        if (!TypeParam::supports(key.type())) {
            Error e = test::expect_error([&] { backend->import_key(name, key); });
            EXPECT_EQ(e.errc(), Errc::unsupported_algorithm) << e.what();
            for (const auto& k : backend->list_keys()) EXPECT_NE(k.name, name);
            continue;
        }
        KeyInfo k = backend->import_key(name, key);
        EXPECT_EQ(k.id, test::cli_key_id(work / "k.pem", false, std::string(tuf_key_type(key.type()))));
        EXPECT_EQ(k.spki_der, key.spki_der());
        EXPECT_TRUE(this->listed(backend->list_keys(), k));
        std::string message = "imported key message";
        auto [hash, data] = this->input_for(k.type, message);
        Bytes sig = backend->sign(k, hash, data);
        EXPECT_TRUE(verify_signature(k.type, k.spki_der, hash, data, sig));
        this->cli_verify(k, message, sig);
        // Importing the same key again under another name is refused.
        EXPECT_EQ(errc_of([&] { backend->import_key(name + "-again", key); }), Errc::already_exists);
    }
}

TYPED_TEST(BackendConformance, RemoveDeletesTheKey) {
    auto backend = this->target.open();
    KeyInfo k = backend->generate("doomed", KeyType::ecdsa_p256);
    KeyInfo keep = backend->generate("kept", KeyType::ecdsa_p256);
    Bytes digest = sha256(as_bytes("x"));
    EXPECT_TRUE(verify_signature(k.type, k.spki_der, HashAlg::sha256, digest, backend->sign(k, HashAlg::sha256, digest)));
    backend->remove(k);
    auto keys = backend->list_keys();
    EXPECT_FALSE(this->listed(keys, k));
    EXPECT_TRUE(this->listed(keys, keep));
    EXPECT_EQ(errc_of([&] { backend->sign(k, HashAlg::sha256, digest); }), Errc::not_found);
    EXPECT_EQ(errc_of([&] { backend->remove(k); }), Errc::not_found);
    this->target.check_removed(k, keep);
    // The name is free again.
    EXPECT_NO_THROW(backend->generate("doomed", TypeParam::kOtherType));
}

TYPED_TEST(BackendConformance, KeyRemovedElsewhereIsNotFound) {
    auto signer = this->target.open();
    auto other = this->target.open();
    KeyInfo k = signer->generate("shared", KeyType::ecdsa_p256);
    Bytes digest = sha256(as_bytes("before"));
    EXPECT_TRUE(verify_signature(k.type, k.spki_der, HashAlg::sha256, digest, signer->sign(k, HashAlg::sha256, digest)));
    other->remove(k);
    EXPECT_EQ(errc_of([&] { signer->sign(k, HashAlg::sha256, digest); }), Errc::not_found);
    EXPECT_TRUE(signer->list_keys().empty());
}

TYPED_TEST(BackendConformance, NameClashAndBadNames) {
    auto backend = this->target.open();
    backend->generate("release", KeyType::ecdsa_p256);
    EXPECT_EQ(errc_of([&] { backend->generate("release", TypeParam::kOtherType); }), Errc::already_exists);
    test::generate_pem("ecdsa", this->dir / "k.pem");
    PrivateKey key = PrivateKey::from_pem(test::read_text(this->dir / "k.pem"), nullptr);
    EXPECT_EQ(errc_of([&] { backend->import_key("release", key); }), Errc::already_exists);
    EXPECT_EQ(errc_of([&] { backend->generate("", KeyType::ecdsa_p256); }), Errc::invalid_argument);
    EXPECT_EQ(errc_of([&] { backend->generate("a/b", KeyType::ecdsa_p256); }), Errc::invalid_argument);
    EXPECT_EQ(errc_of([&] { backend->generate("line\nbreak", KeyType::ecdsa_p256); }), Errc::invalid_argument);
    EXPECT_EQ(errc_of([&] { backend->generate(std::string(129, 'n'), KeyType::ecdsa_p256); }),
              Errc::invalid_argument);
    EXPECT_NO_THROW(backend->generate(std::string(128, 'n'), KeyType::ecdsa_p256));
    EXPECT_EQ(backend->list_keys().size(), 2u);
}

TYPED_TEST(BackendConformance, WrongHashOrDigestLength) {
    auto backend = this->target.open();
    KeyInfo ec = backend->generate("ec", KeyType::ecdsa_p256);
    KeyInfo other = backend->generate("other", TypeParam::kOtherType);
    Bytes short_digest(31, 1), long_digest(33, 1);
    EXPECT_EQ(errc_of([&] { backend->sign(ec, HashAlg::sha256, short_digest); }), Errc::bad_digest_length);
    EXPECT_EQ(errc_of([&] { backend->sign(ec, HashAlg::sha256, long_digest); }), Errc::bad_digest_length);
    EXPECT_EQ(errc_of([&] { backend->sign(ec, HashAlg::none, Bytes(32, 1)); }), Errc::unsupported_algorithm);
    if (other.type == KeyType::ed25519) {
        EXPECT_EQ(errc_of([&] { backend->sign(other, HashAlg::sha256, Bytes(32, 1)); }), Errc::unsupported_algorithm);
    } else {
        EXPECT_EQ(errc_of([&] { backend->sign(other, HashAlg::none, Bytes(32, 1)); }), Errc::unsupported_algorithm);
        EXPECT_EQ(errc_of([&] { backend->sign(other, HashAlg::sha256, Bytes(20, 1)); }), Errc::bad_digest_length);
    }
    std::vector<Bytes> batch{Bytes(32, 1), Bytes(5, 1)};
    EXPECT_EQ(errc_of([&] { backend->sign_batch(ec, HashAlg::sha256, batch); }), Errc::bad_digest_length);
}

TYPED_TEST(BackendConformance, SignBatch) {
    auto backend = this->target.open();
    KeyInfo k = backend->generate("batch", KeyType::ecdsa_p256);
    std::vector<Bytes> digests;
    for (int i = 0; i < 20; ++i) digests.push_back(sha256(as_bytes("item " + std::to_string(i))));
    auto sigs = backend->sign_batch(k, HashAlg::sha256, digests);
    ASSERT_EQ(sigs.size(), digests.size());
    for (std::size_t i = 0; i < sigs.size(); ++i)
        EXPECT_TRUE(verify_signature(k.type, k.spki_der, HashAlg::sha256, digests[i], sigs[i])) << i;
    EXPECT_FALSE(verify_signature(k.type, k.spki_der, HashAlg::sha256, digests[1], sigs[0]));
}

TYPED_TEST(BackendConformance, SeveralKeysAlternately) {
    // More keys than stay loaded at once: each signature still comes from its own key.
    auto backend = this->target.open();
    std::vector<KeyInfo> keys;
    for (int i = 0; i < 4; ++i)
        keys.push_back(backend->generate("k" + std::to_string(i), i % 2 ? TypeParam::kOtherType : KeyType::ecdsa_p256));
    for (int round = 0; round < 3; ++round) {
        for (const auto& k : keys) {
            auto [hash, data] = this->input_for(k.type, "round " + std::to_string(round) + " " + k.name);
            Bytes sig = backend->sign(k, hash, data);
            EXPECT_TRUE(verify_signature(k.type, k.spki_der, hash, data, sig)) << k.name << " round " << round;
        }
    }
}

TYPED_TEST(BackendConformance, MetadataIsStoredWithTheKeySurvivesAndGoesWithIt) {
    auto backend = this->target.open();
    KeyInfo k = backend->generate("root-key", KeyType::ecdsa_p256);
    EXPECT_TRUE(k.meta.empty());
    EXPECT_TRUE(k.certificate_ids.empty());
    const auto pub = this->dir / "root.pub.pem";
    test::write_bytes(pub, as_bytes(spki_to_pem(k.spki_der)));
    const auto cert_a = this->dir / "a.crt", cert_b = this->dir / "b.crt";
    test::make_certificate(pub, "docker.io/library/app", cert_a);
    test::make_certificate(pub, "docker.io/library/web", cert_b);
    const std::string id_a = test::cli_certificate_id(cert_a, "ecdsa-x509");
    const std::string id_b = test::cli_certificate_id(cert_b, "ecdsa-x509");
    const Bytes der_a = certificate_der(as_bytes(test::read_text(cert_a)));

    const KeyUse root_use{"docker.io/library/app", "root"};
    KeyInfo noted = backend->annotate(k, KeyMetadata{{root_use}, {der_a}});
    EXPECT_EQ(noted.meta.uses, std::vector<KeyUse>{root_use});
    EXPECT_EQ(noted.certificate_ids, std::vector<std::string>{id_a});

    // Added to, never duplicated; the second repository's certificate gets its own id.
    const KeyUse web_use{"docker.io/library/web", "root"};
    const Bytes der_b = certificate_der(as_bytes(test::read_text(cert_b)));
    noted = backend->annotate(k, KeyMetadata{{root_use, web_use}, {der_a, der_b}});
    EXPECT_EQ(noted.meta.uses, (std::vector<KeyUse>{root_use, web_use}));
    const auto sorted = [](std::vector<std::string> ids) {
        std::sort(ids.begin(), ids.end());
        return ids;
    };
    const std::vector<std::string> both = sorted({id_a, id_b});
    EXPECT_EQ(sorted(noted.certificate_ids), both);
    this->target.check_metadata_stored(k, 2);

    // Another instance (a restarted daemon) reads it back from the token or state directory.
    KeyInfo keep = backend->generate("plain", KeyType::ecdsa_p256);
    backend.reset();
    auto reopened = this->target.open();
    std::optional<KeyInfo> found;
    for (auto& listed : reopened->list_keys())
        if (listed.id == k.id) found = listed;
    ASSERT_TRUE(found);
    EXPECT_EQ(found->meta.uses, (std::vector<KeyUse>{root_use, web_use}));
    EXPECT_EQ(sorted(found->certificate_ids), both);
    for (auto& listed : reopened->list_keys())
        if (listed.id == keep.id) {
            EXPECT_TRUE(listed.meta.empty());
        }

    // A certificate of another key is refused before the backend sees it.
    EXPECT_EQ(errc_of([&] { check_certificate_of(der_a, keep.spki_der); }), Errc::invalid_argument);

    // Deleting the key deletes what was stored with it.
    reopened->remove(*found);
    this->target.check_metadata_removed(*found);
    for (auto& listed : reopened->list_keys()) EXPECT_NE(listed.id, k.id);
}

} // namespace
} // namespace trustkey::backend
