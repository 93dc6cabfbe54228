// Listing slots and initializing tokens on a real SoftHSM2 module.
#include "lib/backend/pkcs11/token_init.h"

#include <cstdlib>
#include <optional>

#include <gtest/gtest.h>

#include "lib/backend/pkcs11/pkcs11_config.h"
#include "tests/fixtures/expect_error.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::backend::pkcs11 {
namespace {

std::optional<TokenSlot> slot_labelled(const std::string& label, bool initialized) {
    for (const TokenSlot& s : list_token_slots(test::SoftHsmToken::module()))
        if (s.initialized == initialized && s.label == label) return s;
    return std::nullopt;
}

TEST(TokenInit, ListsTheInitializedTokenAndTheFreeSlot) {
    test::SoftHsmToken token("listed");
    const auto listed = slot_labelled("listed", true);
    ASSERT_TRUE(listed.has_value());
    EXPECT_EQ(listed->serial.size(), 16u);
    EXPECT_EQ(listed->manufacturer, "SoftHSM project");
    EXPECT_TRUE(slot_labelled("", false).has_value());
}

TEST(TokenInit, InitializesTheFreeSlotWithAUserPin) {
    test::SoftHsmToken existing("existing");
    const auto free_slot = slot_labelled("", false);
    ASSERT_TRUE(free_slot.has_value());
    const TokenSlot made = init_token(test::SoftHsmToken::module(), free_slot->id, "made", secure_from("so-pin-1"),
                                      secure_from("user-pin-1"));
    EXPECT_EQ(made.label, "made");
    EXPECT_TRUE(made.initialized);
    EXPECT_NE(made.serial, slot_labelled("existing", true)->serial);
    // The user PIN set works: a backend logs in with it and makes a key.
    ::setenv("TOKEN_INIT_TEST_PIN", "user-pin-1", 1);
    auto backend = make_pkcs11_backend(
        Pkcs11Config{"made", test::SoftHsmToken::module(), "pkcs11:token=made", {PinSource::Kind::env, "TOKEN_INIT_TEST_PIN"}, 1});
    EXPECT_EQ(backend->generate("k", KeyType::ecdsa_p256).name, "k");
    EXPECT_EQ(backend->list_keys().size(), 1u);
}

TEST(TokenInit, WrongSoPinLeavesTheTokenAlone) {
    test::SoftHsmToken existing("kept", "1234", "5678");
    const auto slot = slot_labelled("kept", true);
    ASSERT_TRUE(slot.has_value());
    const Error e = test::expect_error([&] {
        init_token(test::SoftHsmToken::module(), slot->id, "other", secure_from("0000"), secure_from("9999"));
    });
    EXPECT_EQ(e.errc(), Errc::pin_incorrect);
    EXPECT_EQ(e.call(), "C_InitToken");
    EXPECT_TRUE(slot_labelled("kept", true).has_value());
}

TEST(TokenInit, LabelLongerThan32BytesIsRefused) {
    test::SoftHsmToken existing("any");
    const Error e = test::expect_error([&] {
        init_token(test::SoftHsmToken::module(), 0, std::string(33, 'x'), secure_from("1"), secure_from("2"));
    });
    EXPECT_EQ(e.errc(), Errc::invalid_argument);
}

} // namespace
} // namespace trustkey::backend::pkcs11
