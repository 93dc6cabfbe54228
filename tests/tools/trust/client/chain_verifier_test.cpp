// ChainVerifier over metadata built here and signed with software keys: a root whose
// certificate is made through make_root_certificate, and timestamps, snapshots and
// rotations signed with trustkey::tuf. Positive cases first, so each refusal below is
// known to come from the one thing that was changed.
#include "tools/trust/client/chain_verifier.h"
#include "tests/fixtures/expect_error.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "lib/core/error.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trust/tuf/software_signer.h"
#include "tools/trust/client/update_failure.h"
#include "tools/trust/tuf/certificate.h"

namespace trustkey::test {
namespace {

using namespace std::chrono_literals;
using trust::ChainVerifier;

constexpr const char* kGun = "example.com/hand";

using test::expect_error;

class HandRepo {
public:
    explicit HandRepo(const std::string& cn = kGun)
        : m_root_signer("ecdsa", m_dir.path()), m_ts_signer("ecdsa", m_dir.path()),
          m_snap_signer("ecdsa", m_dir.path()), m_targets_signer("ecdsa", m_dir.path()),
          m_root_key(certificate_key(m_root_signer, cn)) {}

    static tuf::Key certificate_key(const SoftwareSigner& signer, const std::string& cn,
                                    std::chrono::system_clock::time_point not_before = std::chrono::system_clock::now()) {
        tuf::CertificateRequest req;
        req.common_name = cn;
        req.spki_der = signer.spki_der();
        req.not_before = not_before;
        return tuf::Key::from_certificate_pem(
            tuf::make_root_certificate(req, [&](std::span<const std::uint8_t> d) { return signer.sign_digest(d); }));
    }

    tuf::Root root(std::int64_t version, const tuf::Key& root_key) const {
        tuf::Root r;
        r.common.version = version;
        r.common.expires = tuf::expiry_after(std::chrono::hours(24 * 365));
        r.keys.emplace(root_key.id(), root_key);
        for (const auto& [role, signer] : {std::pair<std::string, const SoftwareSigner*>{"timestamp", &m_ts_signer},
                                           {"snapshot", &m_snap_signer},
                                           {"targets", &m_targets_signer}}) {
            tuf::Key k = signer->key();
            r.keys.emplace(k.id(), k);
            r.roles[role] = tuf::RoleKeys{{k.id()}, 1};
        }
        r.roles["root"] = tuf::RoleKeys{{root_key.id()}, 1};
        return r;
    }

    // The file form of `body` signed by each (key id, signer).
    static std::string sign(const std::string& role, const nlohmann::json& body,
                            const std::vector<std::pair<std::string, const SoftwareSigner*>>& signers) {
        tuf::Signed s(role, body);
        for (const auto& [id, signer] : signers)
            s.add_signature(tuf::Signature{id, "ecdsa", signer->sign(as_bytes(s.canonical()))});
        return s.to_file();
    }

    std::string root_file(std::int64_t version = 1) const {
        return sign("root", root(version, m_root_key).to_json(), {{m_root_key.id(), &m_root_signer}});
    }

    std::string timestamp_file(tuf::Expiry expires, const SoftwareSigner& by) const {
        tuf::Timestamp ts;
        ts.common.version = 3;
        ts.common.expires = expires;
        ts.meta["snapshot"] = tuf::FileMeta::of(as_bytes("snapshot bytes"));
        return sign("timestamp", ts.to_json(), {{by.key().id(), &by}});
    }

    TempDir m_dir{"trustkey-hand-repo"};
    SoftwareSigner m_root_signer;
    SoftwareSigner m_ts_signer;
    SoftwareSigner m_snap_signer;
    SoftwareSigner m_targets_signer;
    tuf::Key m_root_key;
};

TEST(ChainVerifierTest, HandBuiltRootAndTimestampVerify) {
    HandRepo repo;
    ChainVerifier v(kGun);
    tuf::Root root = v.trusted_root(repo.root_file());
    EXPECT_EQ(root.common.version, 1);
    tuf::Timestamp ts = v.timestamp(root, repo.timestamp_file(tuf::expiry_after(3600s), repo.m_ts_signer), 2);
    EXPECT_EQ(ts.common.version, 3);
    // A wildcard common name covers GUNs with its prefix.
    HandRepo wildcard("example.com/*");
    EXPECT_NO_THROW((void)v.trusted_root(wildcard.root_file()));
}

TEST(ChainVerifierTest, ExpiredTimestampNamesRoleAndDate) {
    HandRepo repo;
    ChainVerifier v(kGun);
    tuf::Root root = v.trusted_root(repo.root_file());
    const tuf::Expiry past = tuf::expiry_after(-7200s);
    Error e = expect_error([&] { (void)v.timestamp(root, repo.timestamp_file(past, repo.m_ts_signer), {}); });
    EXPECT_EQ(e.errc(), Errc::denied);
    EXPECT_EQ(e.code_name(), "expired");
    EXPECT_NE(e.message().find("timestamp: expired at " + tuf::format_expiry(past)), std::string::npos) << e.what();
}

TEST(ChainVerifierTest, TimestampByAnotherKeyMissesThreshold) {
    HandRepo repo;
    ChainVerifier v(kGun);
    tuf::Root root = v.trusted_root(repo.root_file());
    // Signed by the snapshot key, which root does not list for timestamp.
    Error e = expect_error(
        [&] { (void)v.timestamp(root, repo.timestamp_file(tuf::expiry_after(3600s), repo.m_snap_signer), {}); });
    EXPECT_EQ(e.code_name(), "threshold");
    EXPECT_NE(e.message().find("timestamp: signature threshold not met: 0 of 1"), std::string::npos) << e.what();
}

TEST(ChainVerifierTest, TimestampRollbackAndMalformedJson) {
    HandRepo repo;
    ChainVerifier v(kGun);
    tuf::Root root = v.trusted_root(repo.root_file());
    const std::string ts = repo.timestamp_file(tuf::expiry_after(3600s), repo.m_ts_signer);
    EXPECT_NO_THROW((void)v.timestamp(root, ts, 3)); // same version is no rollback
    Error e = expect_error([&] { (void)v.timestamp(root, ts, 4); });
    EXPECT_EQ(e.code_name(), "rollback");
    EXPECT_NE(e.message().find("timestamp: rollback: the server offers version 3, older than cached version 4"),
              std::string::npos)
        << e.what();

    Error bad = expect_error([&] { (void)v.timestamp(root, "{\"signed\": {", {}); });
    EXPECT_EQ(bad.errc(), Errc::malformed);
    EXPECT_NE(std::string(bad.what()).find("timestamp"), std::string::npos) << bad.what();
}

TEST(ChainVerifierTest, RootForAnotherCommonNameIsRefused) {
    HandRepo repo("example.com/other");
    ChainVerifier v(kGun);
    Error e = expect_error([&] { (void)v.trusted_root(repo.root_file()); });
    EXPECT_EQ(e.errc(), Errc::denied);
    EXPECT_EQ(e.code_name(), "certificate");
    EXPECT_NE(e.message().find("common name \"example.com/other\", not for the GUN \"example.com/hand\""),
              std::string::npos)
        << e.what();
}

TEST(ChainVerifierTest, RootWithExpiredCertificateIsRefused) {
    HandRepo repo;
    // Valid for ten years from eleven years ago.
    tuf::Key old = HandRepo::certificate_key(repo.m_root_signer, kGun,
                                             std::chrono::system_clock::now() - std::chrono::hours(24 * 365 * 11));
    const std::string file = HandRepo::sign("root", repo.root(1, old).to_json(), {{old.id(), &repo.m_root_signer}});
    Error e = expect_error([&] { (void)ChainVerifier(kGun).trusted_root(file); });
    EXPECT_EQ(e.code_name(), "certificate");
    EXPECT_NE(e.message().find("expired"), std::string::npos) << e.what();
}

TEST(ChainVerifierTest, RotationNeedsOldAndNewRootKeys) {
    HandRepo repo;
    ChainVerifier v(kGun);
    tuf::Root v1 = v.trusted_root(repo.root_file());
    SoftwareSigner next_signer("ecdsa", repo.m_dir.path());
    tuf::Key next_key = HandRepo::certificate_key(next_signer, kGun);
    const nlohmann::json body = repo.root(2, next_key).to_json();

    // Signed by both: accepted.
    const std::string both =
        HandRepo::sign("root", body, {{repo.m_root_key.id(), &repo.m_root_signer}, {next_key.id(), &next_signer}});
    EXPECT_EQ(v.next_root(v1, both, true).common.version, 2);

    // Only the new key: the previous root does not vouch for it.
    const std::string only_new = HandRepo::sign("root", body, {{next_key.id(), &next_signer}});
    Error e = expect_error([&] { (void)v.next_root(v1, only_new, true); });
    EXPECT_EQ(e.code_name(), "threshold");
    EXPECT_NE(e.message().find("version 2 is not signed by the keys of version 1"), std::string::npos) << e.what();

    // Only the old key: the new root's own threshold is not met.
    const std::string only_old = HandRepo::sign("root", body, {{repo.m_root_key.id(), &repo.m_root_signer}});
    Error e2 = expect_error([&] { (void)v.next_root(v1, only_old, true); });
    EXPECT_EQ(e2.code_name(), "threshold");
    EXPECT_NE(e2.message().find("root: signature threshold not met: 0 of 1"), std::string::npos) << e2.what();

    // A version that skips one is refused.
    EXPECT_EQ(expect_error([&] { (void)v.next_root(v1, repo.root_file(3), true); }).code_name(), "version");
}

TEST(ChainVerifierTest, FileChecksNameLengthAndHash) {
    const std::string bytes = "the listed file";
    tuf::FileMeta listed = tuf::FileMeta::of(as_bytes(bytes), true);
    EXPECT_NO_THROW(ChainVerifier::check_file("snapshot", bytes, listed, "timestamp"));

    tuf::FileMeta longer = listed;
    longer.length += 1;
    Error e = expect_error([&] { ChainVerifier::check_file("snapshot", bytes, longer, "timestamp"); });
    EXPECT_EQ(e.code_name(), "length_mismatch");
    EXPECT_NE(e.message().find("snapshot: length 15 bytes, but timestamp lists 16"), std::string::npos) << e.what();

    tuf::FileMeta other = listed;
    other.hashes["sha512"][0] ^= 1;
    Error h = expect_error([&] { ChainVerifier::check_file("snapshot", bytes, other, "timestamp"); });
    EXPECT_EQ(h.code_name(), "hash_mismatch");
    EXPECT_NE(h.message().find("snapshot: sha512"), std::string::npos) << h.what();
}

} // namespace
} // namespace trustkey::test
