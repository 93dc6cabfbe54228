#include "test_peer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "trustkey/proto/frame.h"

namespace trustkey::proto::testing {
namespace {

// Waits for `fd` to become readable; false if the peer is being stopped. Throws after the deadline.
bool wait_readable(int fd, int stop_fd) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const auto deadline = std::chrono::steady_clock::now() + kPeerDeadline;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw std::runtime_error("test peer: deadline passed waiting for the client");
        const int rc = ::poll(p, 2, static_cast<int>(left.count()));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) throw std::runtime_error(std::string("test peer: poll: ") + std::strerror(errno));
        if (p[1].revents != 0) return false;
        if (p[0].revents != 0) return true;
    }
}

} // namespace

std::string make_temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "trustkey-proto-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return tmpl;
}

bool PeerConnection::read_exact(std::uint8_t* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
        if (!wait_readable(m_fd, m_stop_fd)) throw std::runtime_error("test peer: stopped");
        const ssize_t r = ::read(m_fd, dst + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw std::runtime_error(std::string("test peer: read: ") + std::strerror(errno));
        if (r == 0) {
            if (got == 0) return false;
            throw std::runtime_error("test peer: client closed in the middle of a frame");
        }
        got += static_cast<std::size_t>(r);
    }
    return true;
}

std::optional<pb::Request> PeerConnection::read_request(std::uint8_t* version) {
    std::array<std::uint8_t, kFrameHeaderSize> header{};
    if (!read_exact(header.data(), header.size())) return std::nullopt;
    const auto len = parse_frame_header(std::span<const std::uint8_t, kFrameHeaderSize>(header));
    if (!len) throw std::runtime_error("test peer: bad frame length from the client");
    std::vector<std::uint8_t> body(*len);
    if (!read_exact(body.data(), body.size())) throw std::runtime_error("test peer: client closed after a header");
    const auto fb = split_frame_body(body);
    if (!fb) throw std::runtime_error("test peer: empty frame body");
    if (version) *version = fb->version;
    pb::Request req;
    std::string why;
    if (!decode_request(fb->message, req, why)) throw std::runtime_error("test peer: bad request: " + why);
    return req;
}

void PeerConnection::write_raw(const std::vector<std::uint8_t>& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(m_fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(std::string("test peer: write: ") + std::strerror(errno));
        off += static_cast<std::size_t>(n);
    }
}

void PeerConnection::write_response(const pb::Response& resp, std::uint8_t version) {
    write_raw(encode_frame(version, encode_message(resp)));
}

void PeerConnection::accept_hello(std::uint32_t max_frame) {
    std::uint8_t version = 0;
    auto req = read_request(&version);
    if (!req || req->body_case() != pb::Request::kHello) throw std::runtime_error("test peer: expected Hello");
    if (version != 1) throw std::runtime_error("test peer: Hello not sent as version 1");
    pb::Response resp;
    resp.set_id(req->id());
    resp.mutable_hello()->set_version(1);
    resp.mutable_hello()->set_server("test peer");
    resp.mutable_hello()->set_max_frame(max_frame);
    write_response(resp);
}

void PeerConnection::wait_for_close() {
    std::uint8_t b[256];
    for (;;) {
        if (!wait_readable(m_fd, m_stop_fd)) return;
        const ssize_t r = ::read(m_fd, b, sizeof(b));
        if (r == 0 || (r < 0 && errno != EINTR)) return;
    }
}

TestPeer::TestPeer(Script script) : m_script(std::move(script)) {
    m_dir = make_temp_dir();
    m_path = m_dir + "/agent.sock";
    m_listen.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!m_listen) throw std::runtime_error("socket failed");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, m_path.c_str(), m_path.size() + 1);
    if (::bind(m_listen.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(m_listen.get(), 4) != 0) {
        throw std::runtime_error(std::string("bind/listen: ") + std::strerror(errno));
    }
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    m_stop_read.reset(p[0]);
    m_stop_write.reset(p[1]);
    m_thread = std::thread([this] { run(); });
}

void TestPeer::run() {
    try {
        if (!wait_readable(m_listen.get(), m_stop_read.get())) return;
        UniqueFd conn(::accept4(m_listen.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn) throw std::runtime_error(std::string("accept: ") + std::strerror(errno));
        PeerConnection pc(conn.get(), m_stop_read.get());
        m_script(pc);
    } catch (const std::exception& e) {
        m_error = e.what();
    }
}

std::string TestPeer::finish() {
    if (m_thread.joinable()) m_thread.join();
    return m_error;
}

TestPeer::~TestPeer() {
    if (m_thread.joinable()) {
        const char c = 's';
        [[maybe_unused]] const ssize_t n = ::write(m_stop_write.get(), &c, 1);
        m_thread.join();
    }
    std::error_code ec;
    std::filesystem::remove_all(m_dir, ec);
}

} // namespace trustkey::proto::testing
