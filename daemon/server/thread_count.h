// How many threads this process runs now (the entries of /proc/self/task).
#pragma once

#include <cstddef>

namespace trustkey::server {

// 0 when /proc cannot be read.
std::size_t thread_count() noexcept;

} // namespace trustkey::server
