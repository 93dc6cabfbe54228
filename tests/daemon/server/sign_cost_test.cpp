#include "daemon/server/sign_cost.h"

#include <gtest/gtest.h>

namespace trustkey::server {
namespace {

using namespace std::chrono_literals;
using keys::KeyType;

TEST(SignCost, UnknownUntilTheFirstSignatureOfThatType) {
    SignCost cost;
    EXPECT_FALSE(cost.expected(KeyType::ecdsa_p256));
    cost.record(KeyType::ecdsa_p256, 120us);
    ASSERT_TRUE(cost.expected(KeyType::ecdsa_p256));
    EXPECT_EQ(*cost.expected(KeyType::ecdsa_p256), 120us);
    EXPECT_FALSE(cost.expected(KeyType::rsa_2048));
    EXPECT_FALSE(cost.expected(KeyType::ed25519));
}

TEST(SignCost, EachSampleMovesTheEstimateAnEighthOfTheWay) {
    SignCost cost;
    cost.record(KeyType::rsa_2048, 800us);
    cost.record(KeyType::rsa_2048, 1600us);
    EXPECT_EQ(*cost.expected(KeyType::rsa_2048), 900us);
    cost.record(KeyType::rsa_2048, 100us);
    EXPECT_EQ(*cost.expected(KeyType::rsa_2048), 800us);
}

TEST(SignCost, OneOutlierShiftsItALittleALastingChangeTakesOver) {
    SignCost cost;
    for (int i = 0; i < 10; ++i) cost.record(KeyType::ecdsa_p256, 100us);
    cost.record(KeyType::ecdsa_p256, 20ms);  // one slow signature (a scheduling hiccup)
    EXPECT_LT(*cost.expected(KeyType::ecdsa_p256), 3ms);
    EXPECT_GT(*cost.expected(KeyType::ecdsa_p256), 100us);
    for (int i = 0; i < 60; ++i) cost.record(KeyType::ecdsa_p256, 5ms);  // the token became slow
    EXPECT_GT(*cost.expected(KeyType::ecdsa_p256), 4900us);
    for (int i = 0; i < 60; ++i) cost.record(KeyType::ecdsa_p256, 100us);  // and quick again
    EXPECT_LT(*cost.expected(KeyType::ecdsa_p256), 200us);
}

TEST(SignCost, ATimeOfZeroStillCountsAsKnown) {
    SignCost cost;
    cost.record(KeyType::ed25519, 0ns);
    ASSERT_TRUE(cost.expected(KeyType::ed25519));
    EXPECT_GT(cost.expected(KeyType::ed25519)->count(), 0);
}

} // namespace
} // namespace trustkey::server
