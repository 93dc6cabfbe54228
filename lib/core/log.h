// Logging: one line per event with key=value fields, levels, to stderr, a file or
// syslog. Backends and codecs log nothing above debug; the dispatcher logs failures once.
#pragma once

#include <spdlog/spdlog.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace trustkey::log {

// Sets up the process-wide stderr logger. `level`: trace, debug, info, warn, error, off.
void init(std::string_view level);
// The same, appending to `file` (created mode 0600). Throws Errc::config when it cannot be opened.
void init_file(std::string_view level, const std::filesystem::path& file);
// The same, to syslog (the journal under systemd) as `ident`, facility daemon, with the pid.
void init_syslog(std::string_view level, const char* ident);
bool valid_level(std::string_view level);

// Quotes a string that came from a user so it cannot forge log fields or lines.
std::string quoted(std::string_view s);

} // namespace trustkey::log
