// One client connection, served on its own thread: reads what the client sent
// into a bounded buffer, takes frames from it (each length checked before it is
// used), hands them to the dispatcher and writes the replies in request order,
// several at once when the client pipelines. Ends on EOF, a framing error, a stalled partial
// frame, a vanished client, or shutdown(2) of its socket by the daemon.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lib/core/secure_bytes.h"
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

    // Reads what the socket has into the input buffer, waiting for the rest of a
    // started frame no longer than the frame timeout.
    void serve();
    ReadResult fill();
    // Dispatches the complete frames in the input buffer (at most kMaxReadAhead) and queues
    // their replies. Returns false on a framing error.
    bool process_buffered(std::size_t& processed);
    void queue_reply(std::span<const std::uint8_t> body);
    bool flush();
    void compact(std::size_t consumed) noexcept;
    void grow(std::size_t size);

    // Requests answered before their replies are written out.
    static constexpr std::size_t kMaxReadAhead = 64;
    static constexpr std::size_t kInitialBuffer = 16 * 1024;

    int m_fd;
    Caller m_caller;
    Dispatcher& m_dispatcher;
    Options m_options;
    Session m_session;
    SecureBytes m_in;            // may hold PINs or private keys: wiped when freed and when compacted
    std::size_t m_in_len = 0;
    std::vector<std::uint8_t> m_out;
    std::chrono::steady_clock::time_point m_frame_started;
};

} // namespace trustkey::server
