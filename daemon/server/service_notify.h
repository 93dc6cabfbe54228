// Readiness and stop notices to a service manager (sd_notify; systemd's Type=notify).
// Without $NOTIFY_SOCKET they do nothing.
#pragma once

#include <string>

namespace trustkey::server {

// READY=1 with a STATUS= line: the socket accepts and the backends are open.
void notify_ready(const std::string& status) noexcept;
// STOPPING=1 with a STATUS= line: the daemon has begun to stop.
void notify_stopping(const std::string& status) noexcept;

} // namespace trustkey::server
