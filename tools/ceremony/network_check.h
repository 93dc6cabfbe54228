// The air-gap check: a ceremony runs only while no network interface other than
// loopback is up.
#pragma once

#include <string>
#include <vector>

namespace trustkey::ceremony {

// Names of the interfaces that are up (IFF_UP) and not loopback, sorted, each once.
// Throws Error(io) when the interfaces cannot be read.
std::vector<std::string> active_network_interfaces();

// Throws Error(denied) naming the interfaces when any is up.
void require_no_network();

} // namespace trustkey::ceremony
