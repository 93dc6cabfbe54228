#include "daemon/server/service_notify.h"

#include <cstring>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include "lib/core/log.h"

namespace trustkey::server {

namespace {

void notify(const char* state, const std::string& status) noexcept {
    try {
        // A STATUS= value is one line.
        std::string line = status;
        for (char& c : line)
            if (c == '\n') c = ' ';
        const int r = sd_notify(0, fmt::format("{}\nSTATUS={}", state, line).c_str());
        if (r < 0)
            spdlog::warn("event=notify_failed state={} error={}", state, log::quoted(std::strerror(-r)));
        else if (r > 0)
            spdlog::debug("event=notified state={}", state);
    } catch (...) {
        // A notice that cannot be formatted is not sent; serving goes on.
    }
}

} // namespace

void notify_ready(const std::string& status) noexcept { notify("READY=1", status); }

void notify_stopping(const std::string& status) noexcept { notify("STOPPING=1", status); }

} // namespace trustkey::server
