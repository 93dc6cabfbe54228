#include "tools/trustkey/stop_command.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "lib/core/unique_fd.h"

namespace trustkey::tools {

namespace {

constexpr auto kStopWait = std::chrono::seconds(10);
constexpr auto kPollInterval = std::chrono::milliseconds(20);

// True once nothing is at `path` any more, or the daemon's process has ended, within `timeout`.
// A daemon started through socket activation leaves its socket to the service manager, which
// keeps listening there; its process ending is its stop.
bool wait_until_gone(const std::filesystem::path& path, pid_t pid, std::chrono::milliseconds timeout) {
    // pidfd_open through syscall(): Debian 12's <sys/pidfd.h> lacks C linkage for C++.
    UniqueFd process;
    if (pid > 0) {
        process.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
        if (!process && errno == ESRCH) return true;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::error_code ec;
        if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        if (process) {
            pollfd p{process.get(), POLLIN, 0};
            const int timeout_ms = static_cast<int>(kPollInterval.count());
            if (::poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLIN) != 0) return true;
        } else {
            std::this_thread::sleep_for(kPollInterval);
        }
    }
}

} // namespace

StopCommand::StopCommand(CLI::App& app, CommandContext& context) : m_context(context) {
    auto* stop = app.add_subcommand(
        "stop", "Stop trustkeyd: it answers the requests in progress, then exits and removes its socket "
               "(a socket-activated one leaves its socket to the service manager)");
    stop->callback([this] { m_context.action = [this] { run(); }; });
}

void StopCommand::run() const {
    proto::pb::StopReply reply;
    try {
        auto client = m_context.connect();
        reply = client.stop();
    } catch (const proto::ClientError& e) {
        if (e.kind() == proto::ClientError::Kind::not_running)
            throw Failure::failed(fmt::format("no trustkeyd is running at {}", m_context.socket_path));
        throw Failure::from_client_error(e, {}, m_context.socket_path);
    }
    if (!wait_until_gone(m_context.socket_path, static_cast<pid_t>(reply.pid()), kStopWait))
        throw Failure::failed(fmt::format("trustkeyd (pid {}) agreed to stop, but its socket {} is still there after {} s",
                                          reply.pid(), m_context.socket_path,
                                          std::chrono::duration_cast<std::chrono::seconds>(kStopWait).count()));
    std::cout << fmt::format("trustkeyd (pid {}) stopped\n", reply.pid());
}

} // namespace trustkey::tools
