#include "lib/core/locked_bytes.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace trustkey {
namespace {

// The VmFlags line of /proc/self/smaps for the mapping that holds `p`.
std::string vm_flags_of(const void* p) {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        std::uintptr_t begin = 0, end = 0;
        char dash = 0;
        std::istringstream header(line);
        if (header >> std::hex >> begin >> dash >> end && dash == '-' && line.find(' ') != std::string::npos &&
            line.find(':') > line.find(' ')) {
            inside = begin <= address && address < end;
            continue;
        }
        if (inside && line.starts_with("VmFlags:")) return line;
    }
    return {};
}

bool has_flag(const std::string& flags, const std::string& flag) {
    return (flags + " ").find(" " + flag + " ") != std::string::npos;
}

// AddressSanitizer intercepts mlock(2) and makes it a no-op that reports success (it cannot lock
// its shadow memory), so under it the pages are never locked; the release build checks them.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMlockWorks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kMlockWorks = false;
#else
constexpr bool kMlockWorks = true;
#endif
#else
constexpr bool kMlockWorks = true;
#endif

// The mapping is locked (where mlock works in this build).
void expect_locked(const void* p) {
    if (kMlockWorks) {
        EXPECT_TRUE(has_flag(vm_flags_of(p), "lo")) << vm_flags_of(p);
    }
}

TEST(LockedBytes, HoldsItsBytesInLockedNonDumpableMemory) {
    LockedBytes pin = to_locked("123456");
    EXPECT_EQ(as_string_view(pin), "123456");
    const std::string flags = vm_flags_of(pin.data());
    ASSERT_FALSE(flags.empty());
    expect_locked(pin.data());
    EXPECT_TRUE(has_flag(flags, "dd")) << flags;  // left out of core dumps
}

TEST(LockedBytes, GrowsAndCopiesIntoLockedMemoryAgain) {
    LockedBytes b;
    for (int i = 0; i < 10000; ++i) b.push_back(static_cast<std::uint8_t>(i));
    EXPECT_EQ(b.size(), 10000u);
    EXPECT_EQ(b[9999], static_cast<std::uint8_t>(9999));
    expect_locked(b.data() + 9999);
    const LockedBytes copy = b;
    EXPECT_EQ(copy, b);
    expect_locked(copy.data());
    EXPECT_TRUE(has_flag(vm_flags_of(copy.data()), "dd"));
    EXPECT_EQ(to_secure(to_locked("abc")), secure_from("abc"));
}

TEST(LockedBytes, FreedPagesAreGone) {
    const void* where = nullptr;
    {
        LockedBytes pin = to_locked("secret");
        where = pin.data();
        EXPECT_FALSE(vm_flags_of(where).empty());
    }
    // Unmapped: the address belongs to no locked mapping any more.
    EXPECT_FALSE(has_flag(vm_flags_of(where), "lo"));
}

} // namespace
} // namespace trustkey
