#include "bench/socket_round_trip.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "bench/socket_peer.h"
#include "lib/core/error.h"
#include "lib/core/unique_fd.h"

namespace trustkey::bench {

namespace {

bool transfer(int fd, std::array<std::uint8_t, 64>& buf, bool send_first) {
    if (send_first) return write_exact(fd, buf.data(), buf.size()) && read_exact(fd, buf.data(), buf.size());
    return read_exact(fd, buf.data(), buf.size()) && write_exact(fd, buf.data(), buf.size());
}

} // namespace

double socket_round_trip_us(double seconds) {
    SocketPeer peer([](int fd) {
        std::array<std::uint8_t, 64> buf{};
        while (transfer(fd, buf, false)) {
        }
    });
    std::array<std::uint8_t, 64> buf{};
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::duration<double>(seconds);
    std::size_t trips = 0;
    auto now = start;
    while (now < until) {
        for (int i = 0; i < 256; ++i)
            if (!transfer(peer.fd(), buf, true)) break;
        trips += 256;
        now = std::chrono::steady_clock::now();
    }
    peer.finish();  // the child sees EOF and exits
    return std::chrono::duration<double, std::micro>(now - start).count() / static_cast<double>(trips);
}

} // namespace trustkey::bench
