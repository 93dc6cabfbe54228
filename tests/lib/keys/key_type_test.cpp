#include "lib/keys/key_type.h"

#include <gtest/gtest.h>

namespace trustkey::keys {
namespace {

TEST(KeyTypeTest, NamesRoundTripThroughTheCliSpelling) {
    for (KeyType t : {KeyType::ecdsa_p256, KeyType::rsa_2048, KeyType::rsa_4096, KeyType::ed25519})
        EXPECT_EQ(parse_key_type(key_type_name(t)), t);
    EXPECT_EQ(parse_key_type("p256"), KeyType::ecdsa_p256);
    EXPECT_FALSE(parse_key_type("dsa").has_value());
}

TEST(KeyTypeTest, TufNamesAndSignatureSizes) {
    EXPECT_EQ(tuf_key_type(KeyType::rsa_4096), "rsa");
    EXPECT_EQ(tuf_sig_method(KeyType::rsa_2048), "rsapss");
    EXPECT_EQ(tuf_sig_method(KeyType::ed25519), "eddsa");
    EXPECT_EQ(signature_size(KeyType::ecdsa_p256), 64u);
    EXPECT_EQ(signature_size(KeyType::rsa_4096), 512u);
    EXPECT_EQ(digest_size(HashAlg::sha256), 32u);
    EXPECT_EQ(digest_size(HashAlg::none), 0u);
}

} // namespace
} // namespace trustkey::keys
