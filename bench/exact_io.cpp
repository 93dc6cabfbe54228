#include "bench/exact_io.h"

#include <unistd.h>

#include <cerrno>

namespace trustkey::bench {

bool read_exact(int fd, std::uint8_t* buf, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t k = ::read(fd, buf + done, size - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        done += static_cast<std::size_t>(k);
    }
    return true;
}

bool write_exact(int fd, const std::uint8_t* buf, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t k = ::write(fd, buf + done, size - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        done += static_cast<std::size_t>(k);
    }
    return true;
}

} // namespace trustkey::bench
