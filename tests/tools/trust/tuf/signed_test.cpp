// Signing and threshold verification of role files with real keys.
#include "tools/trust/tuf/signed.h"

#include <gtest/gtest.h>

#include "lib/core/error.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trust/tuf/software_signer.h"
#include "tools/trust/tuf/certificate.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/targets.h"

namespace trustkey::tuf {
namespace {

using namespace std::chrono;

class SignedTest : public ::testing::Test {
protected:
    test::TempDir dir;
    test::SoftwareSigner a{"ecdsa", dir.path()};
    test::SoftwareSigner b{"ed25519", dir.path()};
    test::SoftwareSigner c{"rsa", dir.path()};
    test::SoftwareSigner outsider{"ecdsa", dir.path()};
    std::map<std::string, const test::SoftwareSigner*> by_id{
        {a.key().id(), &a}, {b.key().id(), &b}, {c.key().id(), &c}, {outsider.key().id(), &outsider}};
    Expiry now = time_point_cast<nanoseconds>(system_clock::now());

    KeyMap role_keys() const {
        KeyMap m;
        for (const auto* s : {&a, &b, &c}) m.emplace(s->key().id(), s->key());
        return m;
    }
    Signed body(std::int64_t version = 1, seconds valid = hours(24)) const {
        Targets t;
        t.common.version = version;
        t.common.expires = expiry_after(valid);
        t.targets["latest"] = FileMeta::of(as_bytes(std::string("manifest")));
        return Signed("targets", t.to_json());
    }
    SignFunction signer() {
        return [this](const std::string& id, std::string_view method, std::span<const std::uint8_t> msg) {
            const test::SoftwareSigner* s = by_id.at(id);
            EXPECT_EQ(method, s->key().signing_method());
            return s->sign(msg);
        };
    }
    std::vector<SigningKey> keys(std::initializer_list<const test::SoftwareSigner*> list) {
        std::vector<SigningKey> out;
        for (const auto* s : list) out.push_back({s->key().id(), std::string(s->key().signing_method())});
        return out;
    }
};

void expect_denied(const std::function<void()>& f, const std::string& needle) {
    try {
        f();
        ADD_FAILURE() << "verified; expected " << needle;
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::denied) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST_F(SignedTest, SignsCanonicalBytesAndVerifiesAfterParsing) {
    Signed s = body();
    std::vector<std::string> seen;
    s.sign(keys({&a, &b, &c}), [&](const std::string& id, std::string_view m, std::span<const std::uint8_t> msg) {
        EXPECT_EQ(std::string(msg.begin(), msg.end()), s.canonical());
        seen.push_back(id);
        return signer()(id, m, msg);
    });
    EXPECT_EQ(seen.size(), 3u);
    Signed parsed = Signed::parse(s.to_file(), "targets");
    EXPECT_EQ(parsed.canonical(), s.canonical());
    EXPECT_EQ(parsed.verify(role_keys(), 3, now).size(), 3u);
    // Signing again with one key replaces its signature instead of adding one.
    s.sign(keys({&a}), signer());
    EXPECT_EQ(s.signatures().size(), 3u);
}

TEST_F(SignedTest, ThresholdCountsDistinctValidListedKeys) {
    Signed s = body();
    s.sign(keys({&a, &outsider}), signer());
    // A second signature under a's id (notary would write it once; a verifier must count it once).
    Signature dup = s.signatures().front();
    std::string file = s.to_file();
    std::string sig_json = "{\"keyid\":\"" + dup.keyid + "\",\"method\":\"ecdsa\",\"sig\":\"" + to_base64(dup.sig) + "\"}";
    file.insert(file.size() - 2, "," + sig_json);
    Signed parsed = Signed::parse(file, "targets");
    ASSERT_EQ(parsed.signatures().size(), 3u);
    EXPECT_EQ(parsed.verify(role_keys(), 1, now), std::vector<std::string>{a.key().id()});
    expect_denied([&] { parsed.verify(role_keys(), 2, now); }, "1 valid signature(s), threshold 2");

    // A bad signature from a listed key does not count.
    Signed t = body();
    t.sign(keys({&a}), signer());
    Bytes bad = c.sign(as_bytes(t.canonical()));
    bad[10] ^= 0xFF;
    t.add_signature({c.key().id(), "rsapss", bad});
    // A wrong method for a listed key does not count either.
    t.add_signature({b.key().id(), "ecdsa", b.sign(as_bytes(t.canonical()))});
    Signed pt = Signed::parse(t.to_file(), "targets");
    EXPECT_EQ(pt.verify(role_keys(), 1, now).size(), 1u);
    expect_denied([&] { pt.verify(role_keys(), 2, now); }, "threshold 2");

    // Methods are compared lower-cased, as notary reads them.
    Signed u = body();
    u.sign(keys({&b}), signer());
    std::string upper = u.to_file();
    upper.replace(upper.find("\"eddsa\""), 7, "\"EdDSA\"");
    EXPECT_EQ(Signed::parse(upper, "targets").verify(role_keys(), 1, now).size(), 1u);
}

TEST_F(SignedTest, KeyListedUnderWrongIdIsIgnored) {
    Signed s = body();
    s.sign(keys({&a}), signer());
    KeyMap wrong;
    wrong.emplace(a.key().id(), b.key()); // a's id, b's key
    expect_denied([&] { s.verify(wrong, 1, now); }, "0 valid");
}

TEST_F(SignedTest, TamperedBodyFails) {
    Signed s = body(5);
    s.sign(keys({&a, &b}), signer());
    std::string file = s.to_file();
    std::size_t at = file.find("\"version\":5");
    ASSERT_NE(at, std::string::npos);
    file.replace(at, 11, "\"version\":6");
    expect_denied([&] { Signed::parse(file, "targets").verify(role_keys(), 1, now); }, "0 valid");
    // Whitespace or key order changes in the file do not matter: verifiers re-canonicalize.
    std::string spaced = s.to_file();
    spaced.insert(spaced.find("\"signed\":{") + 10, " \n");
    EXPECT_EQ(Signed::parse(spaced, "targets").verify(role_keys(), 2, now).size(), 2u);
}

TEST_F(SignedTest, ExpiredOrWrongTypeFails) {
    Signed s = body(1, seconds(60));
    s.sign(keys({&a}), signer());
    EXPECT_EQ(s.verify(role_keys(), 1, now).size(), 1u);
    expect_denied([&] { s.verify(role_keys(), 1, now + minutes(2)); }, "targets: expired at");
    Signed as_root = Signed::parse(s.to_file(), "root");
    expect_denied([&] { as_root.verify(role_keys(), 1, now); }, "type \"Targets\"");
    EXPECT_THROW(s.verify(role_keys(), 0, now), Error);
}

TEST_F(SignedTest, RootSignedWithCertificateKey) {
    CertificateRequest req;
    req.common_name = "docker.io/library/app";
    req.spki_der = a.spki_der();
    Key cert_key = Key::from_certificate_pem(
        make_root_certificate(req, [&](std::span<const std::uint8_t> d) { return a.sign_digest(d); }));
    Root root;
    root.common.expires = expiry_after(hours(24 * 3650));
    root.keys.emplace(cert_key.id(), cert_key);
    root.keys.emplace(b.key().id(), b.key());
    root.roles["root"] = RoleKeys{{cert_key.id()}, 1};
    for (const char* r : {"targets", "snapshot", "timestamp"}) root.roles[r] = RoleKeys{{b.key().id()}, 1};
    Signed s("root", root.to_json());
    // The signature carries the x509 id; the token key is found by the canonical id.
    EXPECT_EQ(cert_key.canonical_id(), a.key().id());
    s.sign(std::vector<SigningKey>{{cert_key.id(), "ecdsa"}},
           [&](const std::string& id, std::string_view, std::span<const std::uint8_t> msg) {
               EXPECT_EQ(id, cert_key.id());
               return a.sign(msg);
           });
    Signed parsed = Signed::parse(s.to_file(), "root");
    Root back = Root::from_json(parsed.body());
    EXPECT_EQ(back, root);
    EXPECT_EQ(parsed.verify(back.role_key_map("root"), back.role("root").threshold, now),
              std::vector<std::string>{cert_key.id()});
    // The plain key id does not satisfy a role that lists the certificate.
    KeyMap plain;
    plain.emplace(a.key().id(), a.key());
    expect_denied([&] { parsed.verify(plain, 1, now); }, "0 valid");
}

} // namespace
} // namespace trustkey::tuf
