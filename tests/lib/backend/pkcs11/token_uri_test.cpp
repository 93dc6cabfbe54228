// The one token-URI rule, on two real SoftHSM2 tokens in one token directory.
#include "lib/backend/pkcs11/token_uri.h"

#include <gtest/gtest.h>

#include "lib/backend/pkcs11/pkcs11_config.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/expect_error.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::backend::pkcs11 {
namespace {

// Matches every SoftHSM2 token.
constexpr const char* kBothTokens = "pkcs11:manufacturer=SoftHSM%20project";

class TokenUriTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto r = test::run_command("softhsm2-util --init-token --free --label beta --pin 2222 --so-pin 5678");
        ASSERT_EQ(r.exit_code, 0) << r.output;
    }

    static void expect_names_both(const Error& e) {
        EXPECT_EQ(e.errc(), Errc::config) << e.what();
        const std::string text = e.what();
        EXPECT_NE(text.find("matches 2 tokens"), std::string::npos) << text;
        EXPECT_NE(text.find("'alpha' (serial "), std::string::npos) << text;
        EXPECT_NE(text.find("'beta' (serial "), std::string::npos) << text;
        EXPECT_NE(text.find("add serial= or token="), std::string::npos) << text;
    }

    test::SoftHsmToken m_alpha{"alpha", "1111"};
};

TEST_F(TokenUriTest, OneMatchIsFound) {
    const TokenSlot beta = find_token(test::SoftHsmToken::module(), "pkcs11:token=beta");
    EXPECT_EQ(beta.label, "beta");
    EXPECT_FALSE(beta.serial.empty());
    // Narrowed by serial, the URI that matched both names one.
    const TokenSlot by_serial =
        find_token(test::SoftHsmToken::module(), std::string(kBothTokens) + ";serial=" + beta.serial);
    EXPECT_EQ(by_serial.label, "beta");
}

TEST_F(TokenUriTest, AmbiguousUriIsRefusedNamingEachToken) {
    expect_names_both(test::expect_error([] { find_token(test::SoftHsmToken::module(), kBothTokens); }));
}

TEST_F(TokenUriTest, BackendRefusesAnAmbiguousUriInsteadOfTakingTheFirstToken) {
    const Pkcs11Config config{"hsm", test::SoftHsmToken::module(), kBothTokens, {PinSource::Kind::none, {}}, 1};
    expect_names_both(test::expect_error([&] { make_pkcs11_backend(config); }));
}

TEST_F(TokenUriTest, NoMatchIsTokenAbsentAndABadUriIsConfig) {
    EXPECT_EQ(test::expect_error([] { find_token(test::SoftHsmToken::module(), "pkcs11:token=gamma"); }).errc(),
              Errc::token_absent);
    EXPECT_EQ(test::expect_error([] { TokenUri("token=alpha"); }).errc(), Errc::config);
}

} // namespace
} // namespace trustkey::backend::pkcs11
