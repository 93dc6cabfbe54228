// A token with no PIN source and a PinAsker (trustkeyd's pinentry): questions, the
// refused PIN and the PIN kept for a lost login, on a real SoftHSM2 token.
#include <gtest/gtest.h>

#include <vector>

#include "lib/backend/pin_asker.h"
#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/core/error.h"
#include "tests/fixtures/expect_error.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::backend::pkcs11 {
namespace {

using namespace std::chrono_literals;

class PinentryLoginTest : public ::testing::Test {
protected:
    // A backend whose asker answers `answer` ("" cancels) and records each question.
    std::unique_ptr<Backend> open(std::chrono::seconds pin_cache = 600s) {
        Pkcs11Config c;
        c.name = "test";
        c.module = test::SoftHsmToken::module();
        c.token_uri = token.uri();
        c.pin_cache = pin_cache;
        c.ask_pin = [this](const PinQuestion& q) -> std::optional<LockedBytes> {
            questions.push_back(q);
            if (answer.empty()) return std::nullopt;
            return to_locked(answer);
        };
        return make_pkcs11_backend(c);
    }
    // Logs the token out from a session of this process's own: every session loses the login.
    void log_out_behind_its_back() {
        auto module = Module::open(test::SoftHsmToken::module());
        CK_FUNCTION_LIST* fn = module->fn();
        CK_ULONG count = 0;
        ASSERT_EQ(fn->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_OK);
        std::vector<CK_SLOT_ID> slots(count);
        ASSERT_EQ(fn->C_GetSlotList(CK_TRUE, slots.data(), &count), CKR_OK);
        for (CK_SLOT_ID slot : slots) {
            CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
            if (fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s) != CKR_OK) continue;
            fn->C_Logout(s);
            fn->C_CloseSession(s);
        }
    }

    test::SoftHsmToken token{"desk", "5555"};
    std::string answer = "5555";
    std::vector<PinQuestion> questions;
};

TEST_F(PinentryLoginTest, AsksOnceNamingTheTokenAndThePurpose) {
    auto backend = open();
    EXPECT_TRUE(questions.empty()) << "nothing is asked when the backend opens";
    {
        PinPurpose purpose("generate key releases");
        backend->generate("releases", KeyType::ecdsa_p256);
        EXPECT_EQ(backend->list_keys().size(), 1u);
    }
    ASSERT_EQ(questions.size(), 1u);
    EXPECT_EQ(questions[0].token, "desk");
    EXPECT_EQ(questions[0].serial, backend->status().serial);
    EXPECT_FALSE(questions[0].serial.empty());
    EXPECT_EQ(questions[0].purpose, "generate key releases");
    EXPECT_EQ(questions[0].error, "");
    EXPECT_TRUE(backend->status().logged_in);
}

TEST_F(PinentryLoginTest, WorkWithoutAPurposeNeverAsks) {
    auto backend = open();
    const Error e = test::expect_error([&] { backend->list_keys(); });
    EXPECT_EQ(e.errc(), Errc::pin_required);
    EXPECT_NE(e.message().find("pinentry"), std::string::npos) << e.message();
    EXPECT_FALSE(backend->status().logged_in);
    EXPECT_TRUE(questions.empty());
}

TEST_F(PinentryLoginTest, AWrongPinIsReportedOnceAndAskedAgainOnlyByTheNextRequest) {
    auto backend = open();
    answer = "0000";
    {
        PinPurpose purpose("list the keys");
        const Error e = test::expect_error([&] { backend->list_keys(); });
        EXPECT_EQ(e.errc(), Errc::pin_incorrect);
        EXPECT_NE(e.message().find("refused the PIN entered in pinentry; the token reports few tries left"),
                  std::string::npos)
            << e.message();
        // Looking again in the same request neither asks nor tries the PIN again.
        const Error again = test::expect_error([&] { backend->list_keys(); });
        EXPECT_EQ(again.message(), e.message());
        EXPECT_EQ(questions.size(), 1u);
    }
    BackendStatus st = backend->status();
    EXPECT_EQ(st.pin_refused, PinOrigin::pinentry);
    EXPECT_TRUE(st.pin_count_low);
    EXPECT_EQ(questions.size(), 1u);

    answer = "5555";
    {
        PinPurpose purpose("list the keys");
        EXPECT_TRUE(backend->list_keys().empty());
    }
    ASSERT_EQ(questions.size(), 2u);
    EXPECT_EQ(questions[1].error, "The PIN was wrong; the token reports few tries left.");
    st = backend->status();
    EXPECT_TRUE(st.logged_in);
    EXPECT_EQ(st.pin_refused, PinOrigin::none);
    EXPECT_FALSE(st.pin_count_low);
}

TEST_F(PinentryLoginTest, CancelIsPinRequired) {
    auto backend = open();
    answer = "";
    PinPurpose purpose("generate key releases");
    const Error e = test::expect_error([&] { backend->generate("releases", KeyType::ecdsa_p256); });
    EXPECT_EQ(e.errc(), Errc::pin_required);
    EXPECT_NE(e.message().find("cancelled"), std::string::npos) << e.message();
    EXPECT_EQ(questions.size(), 1u);
    EXPECT_EQ(backend->status().pin_refused, PinOrigin::none) << "a cancel is not a wrong PIN";
}

// The token reports the login gone (CKR_USER_NOT_LOGGED_IN on making a private object):
// the backend logs in again.
TEST_F(PinentryLoginTest, ALostLoginComesBackWithTheKeptPin) {
    auto backend = open();
    {
        PinPurpose purpose("generate key first");
        backend->generate("first", KeyType::ecdsa_p256);
    }
    log_out_behind_its_back();
    {
        PinPurpose purpose("generate key second");
        backend->generate("second", KeyType::ecdsa_p256);
    }
    EXPECT_EQ(questions.size(), 1u) << "the kept PIN logged in again without asking";
    EXPECT_TRUE(backend->status().logged_in);
}

TEST_F(PinentryLoginTest, WithoutAKeptPinALostLoginAsksAgain) {
    auto backend = open(0s);
    {
        PinPurpose purpose("generate key first");
        backend->generate("first", KeyType::ecdsa_p256);
    }
    log_out_behind_its_back();
    {
        PinPurpose purpose("generate key second");
        backend->generate("second", KeyType::ecdsa_p256);
    }
    ASSERT_EQ(questions.size(), 2u);
    EXPECT_EQ(questions[1].purpose, "generate key second");
}

TEST_F(PinentryLoginTest, EndingTheLoginLogsOutAndForgetsTheKeptPin) {
    auto backend = open();
    EXPECT_FALSE(backend->login_began());
    KeyInfo key;
    {
        PinPurpose purpose("generate key first");
        key = backend->generate("first", KeyType::ecdsa_p256);
    }
    const auto began = backend->login_began();
    ASSERT_TRUE(began);
    // A lost login the kept PIN restores is the same login: it counts from the first.
    log_out_behind_its_back();
    {
        PinPurpose purpose("generate key second");
        backend->generate("second", KeyType::ecdsa_p256);
    }
    ASSERT_EQ(questions.size(), 1u);
    EXPECT_EQ(backend->login_began(), began);

    // Another login's time ends nothing.
    EXPECT_FALSE(backend->end_login(*began - 1s));
    EXPECT_TRUE(backend->status().logged_in);
    EXPECT_TRUE(backend->end_login(*began));
    EXPECT_FALSE(backend->login_began());
    EXPECT_FALSE(backend->status().logged_in);
    EXPECT_FALSE(backend->ready_to_sign());
    // Not locked: the next use asks again (the kept PIN was forgotten), and a new login begins.
    const std::vector<std::uint8_t> digest(32, 7);
    {
        PinPurpose purpose("sign with key first");
        backend->sign(key, HashAlg::sha256, digest);
    }
    ASSERT_EQ(questions.size(), 2u);
    EXPECT_EQ(questions[1].purpose, "sign with key first");
    ASSERT_TRUE(backend->login_began());
    EXPECT_GT(*backend->login_began(), *began);
}

} // namespace
} // namespace trustkey::backend::pkcs11
