// Logging: one line per event with key=value fields, levels, to stderr.
// Backends and codecs log nothing above debug; the dispatcher logs failures once.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace trustkey::log {

// Sets up the process-wide stderr logger. `level`: trace, debug, info, warn, error, off.
void init(std::string_view level);
bool valid_level(std::string_view level);

// Quotes a string that came from a user so it cannot forge log fields or lines.
std::string quoted(std::string_view s);

} // namespace trustkey::log
