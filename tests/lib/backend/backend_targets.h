// The backends the conformance suite runs against, each with what it needs started
// (a SoftHSM2 token; a swtpm shared by the suite and a fresh state directory) and
// the backend-specific checks of what a key left behind.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "lib/backend/backend.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/backend/tpm2/tpm2_config.h"
#include "tests/lib/keys/openssl_cli.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/swtpm.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::backend::test_targets {

class Pkcs11Target {
public:
    static constexpr const char* kKind = "pkcs11";
    // A second key type for name clashes and wrong-hash cases.
    static constexpr KeyType kOtherType = KeyType::ed25519;

    Pkcs11Target() { ::setenv(kPinVar, m_token.user_pin().c_str(), 1); }
    static void SetUpTestSuite() {}

    std::unique_ptr<Backend> open() {
        pkcs11::Pkcs11Config c;
        c.name = "test";
        c.module = test::SoftHsmToken::module();
        c.token_uri = m_token.uri();
        c.pin = {pkcs11::PinSource::Kind::env, kPinVar};
        return pkcs11::make_pkcs11_backend(c);
    }
    static bool supports(KeyType) { return true; }
    // The key's objects carry CKA_ID = the raw key id, visible to other PKCS#11 tools.
    void check_stored(const KeyInfo& k) const {
        EXPECT_NE(objects().find(k.id), std::string::npos) << objects();
    }
    void check_removed(const KeyInfo& gone, const KeyInfo& kept) const {
        const std::string listing = objects();
        EXPECT_EQ(listing.find(gone.name), std::string::npos) << listing;
        EXPECT_NE(listing.find(kept.name), std::string::npos) << listing;
    }

    // Metadata objects, as another PKCS#11 tool sees them: each certificate a certificate
    // object with the key's CKA_ID, the uses one data object (an update left no old one).
    void check_metadata_stored(const KeyInfo& k, std::size_t certificates) const {
        const std::string listing = objects();
        EXPECT_EQ(count(listing, "Certificate Object"), certificates) << listing;
        EXPECT_EQ(count(listing, "Data object"), 1u) << listing;
        EXPECT_EQ(count(listing, "ID:         " + k.id), 2u + certificates) << listing;
    }
    void check_metadata_removed(const KeyInfo&) const {
        const std::string listing = objects();
        EXPECT_EQ(count(listing, "Certificate Object"), 0u) << listing;
        EXPECT_EQ(count(listing, "Data object"), 0u) << listing;
    }

private:
    static std::size_t count(const std::string& text, const std::string& what) {
        std::size_t n = 0;
        for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
        return n;
    }
    static constexpr const char* kPinVar = "TRUSTKEY_TEST_PIN";
    std::string objects() const {
        return test::must_run("pkcs11-tool --module " + test::SoftHsmToken::module() + " --login --pin " +
                              m_token.user_pin() + " --list-objects");
    }
    test::SoftHsmToken m_token;
};

class Tpm2Target {
public:
    static constexpr const char* kKind = "tpm2";
    static constexpr KeyType kOtherType = KeyType::rsa_2048;

    // One swtpm for the whole suite (the TCTI opens a connection per command).
    static test::Swtpm& swtpm() {
        static test::Swtpm instance;
        return instance;
    }
    static void SetUpTestSuite() { swtpm(); }

    std::unique_ptr<Backend> open() {
        tpm2::Tpm2Config c;
        c.name = "test";
        c.tcti = swtpm().tcti();
        c.state_dir = state_dir();
        return tpm2::make_tpm2_backend(c);
    }
    // ECDSA P-256 and RSA-2048 only: no Ed25519 on a TPM, and swtpm has no RSA-4096.
    static bool supports(KeyType t) { return t == KeyType::ecdsa_p256 || t == KeyType::rsa_2048; }
    // The key's blob is a 0600 file named by its id in the 0700 state directory.
    void check_stored(const KeyInfo& k) const {
        struct stat st{};
        ASSERT_EQ(::stat(blob_path(k).c_str(), &st), 0) << blob_path(k);
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        ASSERT_EQ(::stat(state_dir().c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0700u);
    }
    void check_removed(const KeyInfo& gone, const KeyInfo& kept) const {
        EXPECT_FALSE(std::filesystem::exists(blob_path(gone)));
        EXPECT_TRUE(std::filesystem::exists(blob_path(kept)));
    }
    // The metadata is a 0600 file beside the key's blob, and only that.
    void check_metadata_stored(const KeyInfo& k, std::size_t) const {
        struct stat st{};
        ASSERT_EQ(::stat(meta_path(k).c_str(), &st), 0) << meta_path(k);
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        std::size_t files = 0;
        for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(state_dir())) ++files;
        EXPECT_EQ(files, 2u);
    }
    void check_metadata_removed(const KeyInfo& k) const { EXPECT_FALSE(std::filesystem::exists(meta_path(k))); }
    std::filesystem::path meta_path(const KeyInfo& k) const { return state_dir() / (k.id + ".meta.json"); }
    std::filesystem::path state_dir() const { return m_dir / "tpm2"; }
    std::filesystem::path blob_path(const KeyInfo& k) const { return state_dir() / (k.id + ".tpmkey"); }

private:
    test::TempDir m_dir;
};

} // namespace trustkey::backend::test_targets
