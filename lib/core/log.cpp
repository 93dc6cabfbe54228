#include "lib/core/log.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

#include "lib/core/error.h"

namespace trustkey::log {

bool valid_level(std::string_view level) {
    return level == "trace" || level == "debug" || level == "info" || level == "warn" || level == "error" ||
           level == "off";
}

namespace {

constexpr const char* kLoggerName = "trustkey";
constexpr const char* kLinePattern = "%Y-%m-%dT%H:%M:%S.%e %l %v";

void install(std::shared_ptr<spdlog::logger> logger, std::string_view level) {
    spdlog::set_default_logger(std::move(logger));
    spdlog::set_level(spdlog::level::from_str(std::string(level)));
    spdlog::flush_on(spdlog::level::info);
}

} // namespace

void init(std::string_view level) {
    spdlog::drop(kLoggerName);
    auto logger = spdlog::stderr_logger_mt(kLoggerName);
    logger->set_pattern(kLinePattern);
    install(std::move(logger), level);
}

void init_file(std::string_view level, const std::filesystem::path& file) {
    // Created private (the log names keys and callers); an existing file keeps its mode.
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        const int err = errno;
        Error e(Errc::config, std::string("cannot open the log file: ") + std::strerror(err),
                static_cast<std::uint64_t>(err), "open", file.string());
        e.set_domain(ErrorDomain::os);
        throw e;
    }
    ::close(fd);
    spdlog::drop(kLoggerName);
    std::shared_ptr<spdlog::logger> logger;
    try {
        logger = spdlog::basic_logger_mt(kLoggerName, file.string(), false);
    } catch (const spdlog::spdlog_ex& e) {
        throw Error(Errc::config, std::string("cannot open the log file: ") + e.what(), 0, {}, file.string());
    }
    logger->set_pattern(kLinePattern);
    install(std::move(logger), level);
}

void init_syslog(std::string_view level, const char* ident) {
    spdlog::drop(kLoggerName);
    auto logger = spdlog::syslog_logger_mt(kLoggerName, ident, LOG_PID, LOG_DAEMON, true);
    logger->set_pattern("%l %v");  // syslog adds the time, host and ident[pid]
    install(std::move(logger), level);
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
