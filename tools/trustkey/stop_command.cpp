#include "tools/trustkey/stop_command.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include <fmt/format.h>

namespace trustkey::tools {

namespace {

constexpr auto kStopWait = std::chrono::seconds(10);
constexpr auto kPollInterval = std::chrono::milliseconds(20);

// True once nothing is at `path` any more, within `timeout`.
bool wait_until_gone(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::error_code ec;
        if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(kPollInterval);
    }
}

} // namespace

StopCommand::StopCommand(CLI::App& app, CommandContext& context) : m_context(context) {
    auto* stop = app.add_subcommand(
        "stop", "Stop trustkeyd: it answers the requests in progress, then exits and removes its socket");
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
    if (!wait_until_gone(m_context.socket_path, kStopWait))
        throw Failure::failed(fmt::format("trustkeyd (pid {}) agreed to stop, but its socket {} is still there after {} s",
                                          reply.pid(), m_context.socket_path,
                                          std::chrono::duration_cast<std::chrono::seconds>(kStopWait).count()));
    std::cout << fmt::format("trustkeyd (pid {}) stopped\n", reply.pid());
}

} // namespace trustkey::tools
