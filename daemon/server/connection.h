// One client connection, served on its own thread: reads frames (header checked
// before anything is allocated), hands them to the dispatcher and writes the
// replies in request order. Ends on EOF, a framing error, a stalled partial
// frame, a vanished client, or shutdown(2) of its socket by the daemon.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "daemon/server/caller.h"
#include "daemon/server/dispatcher.h"
#include "daemon/server/session.h"

namespace trustkey::server {

class Connection {
public:
    struct Options {
        std::size_t max_frame = proto::kDefaultMaxFrame;
        std::chrono::milliseconds frame_timeout{std::chrono::seconds(30)};
    };

    // Does not own `fd`: the daemon closes it after the thread is joined.
    Connection(int fd, Caller caller, Dispatcher& dispatcher, Options options) noexcept;

    // Serves until the connection ends. Never throws.
    void run() noexcept;

private:
    enum class ReadResult { ok, eof, timeout, error };

    ReadResult read_exact(std::uint8_t* out, std::size_t n, bool frame_started);
    bool write_all(const std::vector<std::uint8_t>& data);
    bool serve_one();

    int m_fd;
    Caller m_caller;
    Dispatcher& m_dispatcher;
    Options m_options;
    Session m_session;
    std::chrono::steady_clock::time_point m_deadline;
};

} // namespace trustkey::server
