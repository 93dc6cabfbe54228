#include "daemon/server/thread_count.h"

#include <filesystem>
#include <system_error>

namespace trustkey::server {

std::size_t thread_count() noexcept {
    std::error_code ec;
    std::size_t n = 0;
    for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec)) ++n;
    return ec ? 0 : n;
}

} // namespace trustkey::server
