#include "bench/client_load.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "bench/process_sampler.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "lib/core/unique_fd.h"
#include "trustkey/proto/codec.h"
#include "trustkey/proto/frame.h"

namespace trustkey::bench {
namespace {

namespace pb = proto::pb;
using Clock = std::chrono::steady_clock;

// STATUS_BUSY: the daemon is at its connection cap or the key's queue is full.
constexpr int kStatusBusy = 23;

std::string status_label(int status) {
    if (status == kStatusBusy) return "busy";
    return fmt::format("status {} ({})", status, proto::status_name(static_cast<pb::Status>(status)));
}

// Writes all of `data`, waiting (bounded) when the socket is full. False when the peer is gone.
bool write_all(int fd, std::span<const std::uint8_t> data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 5000) <= 0) return false;
            continue;
        }
        return false;
    }
    return true;
}

// If `in` starts with a whole frame, decodes its Response, removes it and returns true.
bool take_response(std::vector<std::uint8_t>& in, pb::Response& out, bool& malformed) {
    malformed = false;
    if (in.size() < proto::kFrameHeaderSize) return false;
    const auto len = proto::parse_frame_header(std::span<const std::uint8_t, proto::kFrameHeaderSize>(in.data(), 4));
    if (!len) {
        malformed = true;
        return false;
    }
    if (in.size() < proto::kFrameHeaderSize + *len) return false;
    const auto body = proto::split_frame_body(std::span(in.data() + proto::kFrameHeaderSize, *len));
    std::string why;
    if (!body || !proto::decode_response(body->message, out, why)) malformed = true;
    in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(proto::kFrameHeaderSize + *len));
    return !malformed;
}

// A blocking connect and Hello; returns the socket (non-blocking from then on) and the version.
UniqueFd connect_client(const std::string& path, std::uint8_t& version) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) throw Error(Errc::config, "socket path too long", 0, {}, path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket", errno);
    timeval tv{10, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) throw_errno("connect", errno, path);

    pb::Request req;
    req.set_id(1);
    auto* hello = req.mutable_hello();
    hello->set_min_version(proto::kMinProtocolVersion);
    hello->set_max_version(proto::kProtocolVersion);
    hello->set_client("sign_bench");
    std::vector<std::uint8_t> frame;
    proto::append_frame(frame, static_cast<std::uint8_t>(proto::kMinProtocolVersion), req);
    if (!write_all(fd.get(), frame)) throw Error(Errc::io, "the connection closed during Hello");
    std::vector<std::uint8_t> in;
    pb::Response resp;
    bool malformed = false;
    while (!take_response(in, resp, malformed)) {
        if (malformed) throw Error(Errc::io, "malformed Hello reply");
        std::uint8_t buf[4096];
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error(Errc::io, "the connection closed during Hello");
        in.insert(in.end(), buf, buf + n);
    }
    if (resp.status() != pb::STATUS_OK || !resp.has_hello())
        throw Error(Errc::io, "Hello refused: " + status_label(resp.status()));
    version = static_cast<std::uint8_t>(resp.hello().version());
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) throw_errno("fcntl", errno);
    return fd;
}

struct Conn {
    UniqueFd fd;
    std::uint8_t version = 1;
    std::uint64_t next_id = 2;
    std::uint64_t waiting_id = 0;  // 0: nothing outstanding
    Clock::time_point sent_at;
    Bytes digest;
    std::string last_signature;
    std::vector<std::uint8_t> in;
    std::vector<std::uint8_t> out;
    bool open = true;
};

// What one driver thread saw.
struct Tally {
    std::uint64_t sent = 0, ok = 0, unanswered = 0;
    std::map<std::string, std::uint64_t> failures;
    std::vector<std::uint64_t> ns;
    Clock::time_point last{};
};

class Driver {
public:
    Driver(const std::string& key, std::vector<Conn*> conns) : m_key(key), m_conns(std::move(conns)) {}

    void run(Clock::time_point deadline, Clock::time_point give_up, const std::atomic<bool>& stop) {
        UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
        if (!ep) throw_errno("epoll_create1", errno);
        for (Conn* c : m_conns) {
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.ptr = c;
            if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) != 0) throw_errno("epoll_ctl", errno);
        }
        std::size_t active = 0;
        for (Conn* c : m_conns)
            if (send(*c)) ++active;
        std::vector<epoll_event> events(256);
        while (active > 0) {
            const auto now = Clock::now();
            if (now >= give_up || stop) break;
            const int n = ::epoll_wait(ep.get(), events.data(), static_cast<int>(events.size()), 100);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("epoll_wait", errno);
            for (int i = 0; i < n; ++i) {
                Conn& c = *static_cast<Conn*>(events[static_cast<std::size_t>(i)].data.ptr);
                if (!c.open) continue;
                if (!receive(c, deadline, stop)) --active;
            }
        }
        for (Conn* c : m_conns)
            if (c->open && c->waiting_id != 0) {
                ++m_tally.unanswered;
                ++m_tally.failures[stop ? "interrupted" : "no reply within the grace period"];
            }
    }

    Tally& tally() { return m_tally; }

private:
    // Writes the next request; false (and the connection closed) when that fails.
    bool send(Conn& c) {
        pb::Request req;
        c.waiting_id = c.next_id++;
        req.set_id(c.waiting_id);
        auto* s = req.mutable_sign();
        s->set_key(m_key);
        s->set_hash(pb::HASH_SHA256);
        s->set_data(c.digest.data(), c.digest.size());
        c.out.clear();
        proto::append_frame(c.out, c.version, req);
        ++m_tally.sent;
        c.sent_at = Clock::now();
        if (write_all(c.fd.get(), c.out)) return true;
        close(c, "connection closed");
        return false;
    }

    void close(Conn& c, const std::string& why) {
        if (c.waiting_id != 0) {
            ++m_tally.unanswered;
            ++m_tally.failures[why];
        }
        c.waiting_id = 0;
        c.open = false;
        c.fd.reset();
    }

    // Reads what arrived; handles each reply. False when this connection is finished.
    bool receive(Conn& c, Clock::time_point deadline, const std::atomic<bool>& stop) {
        for (;;) {
            std::uint8_t buf[8192];
            const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                c.in.insert(c.in.end(), buf, buf + n);
                if (static_cast<std::size_t>(n) == sizeof buf) continue;
                break;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            close(c, "connection closed");
            return false;
        }
        pb::Response resp;
        bool malformed = false;
        while (take_response(c.in, resp, malformed)) {
            const auto now = Clock::now();
            if (c.waiting_id == 0 || resp.id() != c.waiting_id) {
                ++m_tally.failures["reply with an unexpected id"];
                continue;
            }
            c.waiting_id = 0;
            m_tally.ns.push_back(
                static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.sent_at).count()));
            m_tally.last = now;
            if (resp.status() == pb::STATUS_OK && resp.has_sign() && !resp.sign().signature().empty()) {
                ++m_tally.ok;
                c.last_signature = resp.sign().signature();
            } else
                ++m_tally.failures[status_label(resp.status())];
            if (now >= deadline || stop) {
                c.open = false;  // done; the connection closes with the run
                return false;
            }
            if (!send(c)) return false;
        }
        if (malformed) {
            ++m_tally.failures["malformed reply"];
            close(c, "connection closed");
            return false;
        }
        return true;
    }

    const std::string& m_key;
    std::vector<Conn*> m_conns;
    Tally m_tally;
};

} // namespace

Latency run_client_load(const ClientLoadOptions& o, const std::atomic<bool>& stop) {
    Latency l;
    l.clients = o.clients;
    std::vector<std::unique_ptr<Conn>> conns;
    conns.reserve(o.clients);
    for (std::size_t i = 0; i < o.clients && !stop; ++i) {
        auto c = std::make_unique<Conn>();
        try {
            c->fd = connect_client(o.socket, c->version);
        } catch (const std::exception& e) {
            ++l.failures["connect failed"];
            if (l.failures["connect failed"] == 1)
                l.failures[std::string("first connect failure: ") + e.what()] = 1;
            continue;
        }
        c->digest = sha256(as_bytes(fmt::format("trustkey bench client {}", i)));
        conns.push_back(std::move(c));
    }
    if (stop) throw Error(Errc::io, "interrupted");

    const std::size_t threads = std::max<std::size_t>(1, std::min(o.threads, conns.size()));
    std::vector<std::unique_ptr<Driver>> drivers;
    for (std::size_t t = 0; t < threads; ++t) {
        std::vector<Conn*> mine;
        for (std::size_t i = t; i < conns.size(); i += threads) mine.push_back(conns[i].get());
        drivers.push_back(std::make_unique<Driver>(o.key, std::move(mine)));
    }
    std::latch go(1);
    Clock::time_point start, deadline, give_up;
    std::vector<std::exception_ptr> errors(threads);
    const double client_cpu = cpu_seconds(::getpid());
    const double server_cpu = o.server_pid > 0 ? cpu_seconds(o.server_pid) : 0;
    {
        std::vector<std::jthread> pool;
        for (std::size_t t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                go.wait();
                try {
                    drivers[t]->run(deadline, give_up, stop);
                } catch (...) {
                    errors[t] = std::current_exception();
                }
            });
        start = Clock::now();
        deadline = start + std::chrono::duration_cast<Clock::duration>(o.duration);
        give_up = deadline + o.grace;
        go.count_down();
    }
    l.client_cpu_seconds = cpu_seconds(::getpid()) - client_cpu;
    if (o.server_pid > 0) l.server_cpu_seconds = cpu_seconds(o.server_pid) - server_cpu;
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);

    std::vector<std::uint64_t> all;
    Clock::time_point last = start;
    for (auto& d : drivers) {
        Tally& t = d->tally();
        l.requests += t.sent;
        l.ok += t.ok;
        l.unanswered += t.unanswered;
        for (const auto& [what, n] : t.failures) l.failures[what] += n;
        all.insert(all.end(), t.ns.begin(), t.ns.end());
        if (t.last > last) last = t.last;
    }
    l.seconds = std::chrono::duration<double>(last - start).count();
    set_percentiles(l, all);
    if (o.verify)
        for (const auto& c : conns)
            if (!c->last_signature.empty() && !o.verify(c->digest, as_bytes(c->last_signature))) {
                ++l.failures["signature does not verify"];
                --l.ok;
            }
    return l;
}

} // namespace trustkey::bench
