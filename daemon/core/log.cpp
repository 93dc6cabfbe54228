#include "daemon/core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace trustkey::log {

bool valid_level(std::string_view level) {
    return level == "trace" || level == "debug" || level == "info" || level == "warn" || level == "error" ||
           level == "off";
}

void init(std::string_view level) {
    auto logger = spdlog::stderr_logger_mt("trustkey");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(std::string(level)));
    spdlog::flush_on(spdlog::level::info);
}

std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c < 0x20 || c == 0x7f) {
            static constexpr char kDigits[] = "0123456789abcdef";
            out += "\\x";
            out.push_back(kDigits[c >> 4]);
            out.push_back(kDigits[c & 0xf]);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
    return out;
}

} // namespace trustkey::log
