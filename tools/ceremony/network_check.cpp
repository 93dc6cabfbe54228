#include "tools/ceremony/network_check.h"

#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "lib/core/error.h"

namespace trustkey::ceremony {

namespace {

struct IfaddrsFree {
    void operator()(ifaddrs* p) const noexcept { ::freeifaddrs(p); }
};

} // namespace

std::vector<std::string> active_network_interfaces() {
    ifaddrs* raw = nullptr;
    if (::getifaddrs(&raw) != 0) throw_errno("getifaddrs", errno);
    const std::unique_ptr<ifaddrs, IfaddrsFree> list(raw);
    // getifaddrs lists every interface (an AF_PACKET entry each), with or without addresses.
    std::vector<std::string> names;
    for (const ifaddrs* p = list.get(); p != nullptr; p = p->ifa_next) {
        if (p->ifa_name == nullptr) continue;
        if ((p->ifa_flags & IFF_UP) == 0 || (p->ifa_flags & IFF_LOOPBACK) != 0) continue;
        names.emplace_back(p->ifa_name);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

void require_no_network() {
    const std::vector<std::string> up = active_network_interfaces();
    if (up.empty()) return;
    std::string list;
    for (const std::string& name : up) list += (list.empty() ? "" : ", ") + name;
    throw Error(Errc::denied,
                "network interface" + std::string(up.size() > 1 ? "s " : " ") + list +
                    (up.size() > 1 ? " are" : " is") +
                    " up; take the machine off the network (or give --allow-network, which the transcript records)",
                0, {}, list);
}

} // namespace trustkey::ceremony
