#include "lib/backend/pkcs11/pin_cache.h"

#include <gtest/gtest.h>

#include <thread>

namespace trustkey::backend::pkcs11 {
namespace {

using namespace std::chrono_literals;

TEST(PinCache, KeepsAPinForItsTimeThenWipesIt) {
    PinCache cache;
    EXPECT_FALSE(cache.get());
    cache.put(to_locked("2468"), 300ms);
    const auto kept = cache.get();
    ASSERT_TRUE(kept);
    EXPECT_EQ(as_string_view(*kept), "2468");
    std::this_thread::sleep_for(500ms);
    EXPECT_FALSE(cache.get());
}

TEST(PinCache, ANewPinReplacesTheOldAndItsTime) {
    PinCache cache;
    cache.put(to_locked("1111"), 200ms);
    cache.put(to_locked("2222"), 10s);
    std::this_thread::sleep_for(400ms);
    const auto kept = cache.get();
    ASSERT_TRUE(kept);
    EXPECT_EQ(as_string_view(*kept), "2222");
}

TEST(PinCache, ZeroTimeKeepsNothingAndClearDrops) {
    PinCache cache;
    cache.put(to_locked("1111"), 10s);
    cache.put(to_locked("2222"), 0s);
    EXPECT_FALSE(cache.get());
    cache.put(to_locked("3333"), 10s);
    cache.clear();
    EXPECT_FALSE(cache.get());
}

} // namespace
} // namespace trustkey::backend::pkcs11
