#include "bench/socket_round_trip.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>

#include "lib/core/error.h"
#include "lib/core/unique_fd.h"

namespace trustkey::bench {

namespace {

bool transfer(int fd, std::array<char, 64>& buf, bool send_first) {
    auto io = [&](bool sending) {
        std::size_t done = 0;
        while (done < buf.size()) {
            const ssize_t k = sending ? ::write(fd, buf.data() + done, buf.size() - done)
                                      : ::read(fd, buf.data() + done, buf.size() - done);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) return false;
            done += static_cast<std::size_t>(k);
        }
        return true;
    };
    return send_first ? io(true) && io(false) : io(false) && io(true);
}

} // namespace

double socket_round_trip_us(double seconds) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair", errno);
    UniqueFd parent(sv[0]), child_end(sv[1]);
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork", errno);
    if (pid == 0) {
        parent.reset();
        std::array<char, 64> buf{};
        while (transfer(child_end.get(), buf, false)) {
        }
        ::_exit(0);
    }
    child_end.reset();
    std::array<char, 64> buf{};
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::duration<double>(seconds);
    std::size_t trips = 0;
    auto now = start;
    while (now < until) {
        for (int i = 0; i < 256; ++i)
            if (!transfer(parent.get(), buf, true)) break;
        trips += 256;
        now = std::chrono::steady_clock::now();
    }
    parent.reset();  // the child sees EOF and exits
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return std::chrono::duration<double, std::micro>(now - start).count() / static_cast<double>(trips);
}

} // namespace trustkey::bench
