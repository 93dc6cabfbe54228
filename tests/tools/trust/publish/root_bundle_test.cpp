// RootBundle::load on bundles made here the way `trustkey-ceremony export` lays them out:
// a root.json signed by a software root key behind a self-signed certificate (CN = GUN),
// bundle.json with each file's SHA-256. Each refusal names the bundle and what failed.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trust/tuf/software_signer.h"
#include "tools/trust/client/chain_verifier.h"
#include "tools/trust/publish/root_bundle.h"
#include "tools/trust/tuf/canonical_json.h"
#include "tools/trust/tuf/certificate.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using trust::RootBundle;

constexpr const char* kGun = "registry.example.com/team/bundled";

class RootBundleLoadTest : public ::testing::Test {
protected:
    void SetUp() override {
        tuf::CertificateRequest request;
        request.common_name = kGun;
        request.spki_der = m_root.spki_der();
        const tuf::Key cert = tuf::Key::from_certificate_pem(tuf::make_root_certificate(
            request, [&](std::span<const std::uint8_t> digest) { return m_root.sign_digest(digest); }));
        tuf::Root root;
        root.common.version = 1;
        root.common.expires = tuf::expiry_after(std::chrono::hours(24 * 365));
        root.keys.insert_or_assign(cert.id(), cert);
        root.roles["root"] = tuf::RoleKeys{{cert.id()}, 1};
        for (const char* role : {"targets", "snapshot", "timestamp"}) {
            const tuf::Key key = m_online.key();
            root.keys.insert_or_assign(key.id(), key);
            root.roles[role] = tuf::RoleKeys{{key.id()}, 1};
        }
        tuf::Signed file("root", root.to_json());
        const tuf::SigningKey signing{cert.id(), "ecdsa"};
        file.sign(std::span(&signing, 1), [&](const std::string&, std::string_view, std::span<const std::uint8_t> msg) {
            return m_root.sign(msg);
        });
        m_root_file = file.to_file();
        fs::create_directories(m_bundle);
        write_file(m_bundle / "root.json", m_root_file);
        write_file(m_bundle / "root-keys.json", "{}\n");
        write_file(m_bundle / "transcript.jsonl", "{}\n");
        write_manifest(kGun);
    }

    // bundle.json listing every file of the bundle with its SHA-256 (`gun` as its GUN).
    void write_manifest(const std::string& gun) const {
        nlohmann::json manifest = {{"gun", gun}, {"files", nlohmann::json::object()}};
        for (const auto& entry : fs::directory_iterator(m_bundle)) {
            const std::string name = entry.path().filename().string();
            if (name != "bundle.json") manifest["files"][name] = to_hex(sha256(as_bytes(read_file(entry.path()))));
        }
        write_file(m_bundle / "bundle.json", manifest.dump(2));
    }

    // Expects load() to throw an Error with `errc` whose message holds each of `words`.
    void expect_refused(Errc errc, const std::vector<std::string>& words, tuf::Expiry now = trust::expiry_now()) {
        try {
            (void)RootBundle::load(m_bundle, kGun, now);
            ADD_FAILURE() << "the bundle loaded";
        } catch (const Error& e) {
            EXPECT_EQ(e.errc(), errc) << e.message();
            EXPECT_NE(e.message().find(m_bundle.string()), std::string::npos) << e.message();
            for (const auto& word : words)
                EXPECT_NE(e.message().find(word), std::string::npos) << word << ": " << e.message();
        }
    }

    TempDir m_dir{"root-bundle-load"};
    SoftwareSigner m_root{"ecdsa", m_dir.path()};
    SoftwareSigner m_online{"ecdsa", m_dir.path()};
    fs::path m_bundle = m_dir / "bundle";
    std::string m_root_file;
};

TEST_F(RootBundleLoadTest, LoadsAVerifiedBundle) {
    const RootBundle bundle = RootBundle::load(m_bundle, kGun);
    EXPECT_EQ(bundle.gun, kGun);
    EXPECT_EQ(bundle.dir, m_bundle);
    EXPECT_EQ(bundle.root_bytes, m_root_file);
    EXPECT_EQ(bundle.root.common.version, 1);
}

TEST_F(RootBundleLoadTest, EditedFileIsNamed) {
    write_file(m_bundle / "transcript.jsonl", "{}\n{}\n");
    expect_refused(Errc::denied, {"transcript.jsonl", "SHA-256", "changed after export"});
}

TEST_F(RootBundleLoadTest, ManifestMustListRootAndPlainNames) {
    fs::remove(m_bundle / "bundle.json");
    expect_refused(Errc::io, {"bundle.json"});

    auto manifest = nlohmann::json{{"gun", kGun}, {"files", {{"root-keys.json", "00"}}}};
    write_file(m_bundle / "bundle.json", manifest.dump());
    expect_refused(Errc::malformed, {"does not list root.json"});

    write_manifest(kGun);
    manifest = nlohmann::json::parse(read_file(m_bundle / "bundle.json"));
    manifest["files"]["../root.json"] = manifest["files"]["root.json"];
    write_file(m_bundle / "bundle.json", manifest.dump());
    expect_refused(Errc::malformed, {"\"../root.json\""});

    write_file(m_bundle / "bundle.json", "{\"gun\":");
    expect_refused(Errc::malformed, {"bundle.json"});
}

TEST_F(RootBundleLoadTest, AnotherRepositorysBundleIsRefused) {
    write_manifest("registry.example.com/team/other");
    expect_refused(Errc::denied, {"is for registry.example.com/team/other", std::string("not for ") + kGun});
}

TEST_F(RootBundleLoadTest, RootMustVerifyAsARootOfTheGun) {
    // Without its signature (the manifest rehashed), root.json falls short of its threshold.
    const tuf::Signed full = tuf::Signed::parse(m_root_file, "root");
    write_file(m_bundle / "root.json", tuf::file_form(full.canonical(), std::vector<tuf::Signature>{}));
    write_manifest(kGun);
    expect_refused(Errc::denied, {"root.json does not hold as a root of", "threshold not met: 0 of 1"});
}

TEST_F(RootBundleLoadTest, ExpiredCertificateIsRefused) {
    // Eleven years on, the ten-year certificate has expired.
    expect_refused(Errc::denied, {"certificate that expired"},
                   trust::expiry_now() + std::chrono::hours(24 * 365 * 11));
}

} // namespace
} // namespace trustkey::test
