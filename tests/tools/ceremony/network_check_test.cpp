// The air-gap check against the interfaces the kernel reports in /sys/class/net.
#include "tools/ceremony/network_check.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/fixtures/expect_error.h"

namespace trustkey::ceremony {
namespace {

// Interfaces whose flags (from sysfs, not getifaddrs) have IFF_UP and not IFF_LOOPBACK.
std::vector<std::string> up_from_sysfs() {
    std::vector<std::string> up;
    for (const auto& entry : std::filesystem::directory_iterator("/sys/class/net")) {
        std::ifstream in(entry.path() / "flags");
        unsigned long flags = 0;
        in >> std::hex >> flags;
        if ((flags & 0x1) != 0 && (flags & 0x8) == 0) up.push_back(entry.path().filename().string());
    }
    std::sort(up.begin(), up.end());
    return up;
}

TEST(NetworkCheck, ListsTheInterfacesThatAreUp) {
    EXPECT_EQ(active_network_interfaces(), up_from_sysfs());
}

TEST(NetworkCheck, RefusalNamesEachInterface) {
    const auto up = up_from_sysfs();
    if (up.empty()) GTEST_SKIP() << "no network interface is up on this machine";
    const Error e = test::expect_error([] { require_no_network(); });
    EXPECT_EQ(e.errc(), Errc::denied);
    for (const auto& name : up) EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
}

} // namespace
} // namespace trustkey::ceremony
