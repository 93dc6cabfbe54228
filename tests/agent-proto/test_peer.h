// A small Unix-socket server thread for client tests. It speaks real frames through
// the codec; each test scripts what it answers. Every wait is bounded.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lib/core/unique_fd.h"
#include "trustkey/proto/codec.h"

namespace trustkey::proto::testing {

// One accepted connection, seen from the server side.
class PeerConnection {
public:
    PeerConnection(int fd, int stop_fd) : m_fd(fd), m_stop_fd(stop_fd) {}

    // Reads one request frame; nullopt when the client closed the connection.
    // Fails the test (throws) on a bad frame or after the deadline.
    std::optional<pb::Request> read_request(std::uint8_t* version = nullptr);
    void write_response(const pb::Response& resp, std::uint8_t version = 1);
    void write_raw(const std::vector<std::uint8_t>& bytes);
    // Answers a Hello with version 1 and the given limits.
    void accept_hello(std::uint32_t max_frame = 65536);
    // Waits until the client closes its end.
    void wait_for_close();

private:
    bool read_exact(std::uint8_t* dst, std::size_t n);
    int m_fd;
    int m_stop_fd;
};

class TestPeer {
public:
    using Script = std::function<void(PeerConnection&)>;
    // Binds a socket in a fresh temporary directory and runs `script` on the first connection.
    explicit TestPeer(Script script);
    ~TestPeer();
    TestPeer(const TestPeer&) = delete;
    TestPeer& operator=(const TestPeer&) = delete;

    const std::string& path() const { return m_path; }
    // Waits for the script to finish; returns what went wrong in it, empty if nothing.
    std::string finish();

private:
    void run();

    std::string m_dir;
    std::string m_path;
    UniqueFd m_listen;
    UniqueFd m_stop_read;
    UniqueFd m_stop_write;
    Script m_script;
    std::string m_error;
    std::thread m_thread;
};

// Creates a fresh private directory under the system temporary directory.
std::string make_temp_dir();

inline constexpr std::chrono::seconds kPeerDeadline{10};

} // namespace trustkey::proto::testing
