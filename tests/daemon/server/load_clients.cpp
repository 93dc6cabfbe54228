#include "tests/daemon/server/load_clients.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <openssl/rand.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>
#include <sstream>
#include <stdexcept>

#include "lib/core/unique_fd.h"
#include "trustkey/proto/frame.h"

namespace trustkey::test {

namespace pb = proto::pb;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxProblems = 12;
constexpr std::size_t kEd25519MessageSize = 48;
constexpr std::size_t kDigestSize = 32;
constexpr auto kConnectRetry = std::chrono::milliseconds(5);
constexpr std::uint8_t kVersion = proto::kProtocolVersion;

std::uint64_t request_id(std::size_t client, std::size_t request) {
    return (static_cast<std::uint64_t>(client + 1) << 32) | static_cast<std::uint64_t>(request + 1);
}
std::uint64_t hello_id(std::size_t client) { return static_cast<std::uint64_t>(client + 1) << 32; }
std::size_t client_of(std::uint64_t id) { return static_cast<std::size_t>(id >> 32) - 1; }

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

enum class Phase { connecting, hello, ready, signing, done, dead };

struct Connection {
    UniqueFd fd;
    Phase phase = Phase::connecting;
    std::vector<std::uint8_t> out;
    std::size_t out_sent = 0;
    std::vector<std::uint8_t> in;
    std::deque<std::size_t> in_flight;  // request indexes, in the order sent
    std::vector<Clock::time_point> sent_at;
    std::size_t next = 0;  // next request index to send
    std::size_t answered = 0;
    bool want_write = false;
};

class Run {
public:
    Run(const LoadPlan& plan, LoadReport& report) : m_plan(plan), m_report(report), m_conns(plan.clients) {
        if (m_plan.keys.empty()) throw std::invalid_argument("run_load: no keys");
        m_epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
        if (!m_epoll) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
        make_requests();
    }

    void run() {
        const auto started = Clock::now();
        m_deadline = started + m_plan.deadline;
        // Every connection up and negotiated first.
        while (count(Phase::connecting) + count(Phase::hello) > 0 && !past_deadline()) {
            connect_pending();
            wait_and_serve(count(Phase::connecting) > 0 ? kConnectRetry : std::chrono::milliseconds(200));
        }
        const auto signing = Clock::now();
        m_report.connect_seconds = seconds_between(started, signing);
        m_report.open_at_start = count(Phase::ready);
        if (!past_deadline()) {
            for (std::size_t i = 0; i < m_conns.size(); ++i) {
                if (m_conns[i].phase != Phase::ready) continue;
                m_conns[i].phase = Phase::signing;
                for (std::size_t k = 0; k < m_plan.pipeline_depth; ++k) send_next(i);
            }
            while (count(Phase::signing) > 0 && !past_deadline()) wait_and_serve(std::chrono::milliseconds(200));
        }
        m_report.sign_seconds = seconds_between(signing, m_last_reply > signing ? m_last_reply : signing);
        if (past_deadline()) {
            m_report.deadline_passed = true;
            problem("deadline of " + std::to_string(m_plan.deadline.count()) + " s passed: " +
                    std::to_string(count(Phase::connecting)) + " clients not connected, " +
                    std::to_string(count(Phase::hello)) + " without a Hello reply, " +
                    std::to_string(count(Phase::signing)) + " still waiting for signatures");
        }
        finish();
    }

private:
    void make_requests() {
        std::set<std::vector<std::uint8_t>> seen;
        m_report.clients.resize(m_plan.clients);
        for (std::size_t i = 0; i < m_plan.clients; ++i) {
            auto& c = m_report.clients[i];
            c.key = i % m_plan.keys.size();
            const bool message = m_plan.keys[c.key].type == pb::KEY_TYPE_ED25519;
            c.requests.resize(m_plan.signatures_per_client);
            for (std::size_t j = 0; j < c.requests.size(); ++j) {
                auto& r = c.requests[j];
                r.id = request_id(i, j);
                do {
                    r.data.assign(message ? kEd25519MessageSize : kDigestSize, 0);
                    if (RAND_bytes(r.data.data(), static_cast<int>(r.data.size())) != 1)
                        throw std::runtime_error("RAND_bytes failed");
                } while (!seen.insert(r.data).second);
            }
            m_conns[i].sent_at.resize(m_plan.signatures_per_client);
        }
    }

    std::size_t count(Phase p) const {
        return static_cast<std::size_t>(
            std::count_if(m_conns.begin(), m_conns.end(), [p](const Connection& c) { return c.phase == p; }));
    }
    bool past_deadline() const { return Clock::now() >= m_deadline; }

    void problem(std::string line) {
        if (m_report.problems.size() < kMaxProblems) m_report.problems.push_back(std::move(line));
    }
    void problem(std::size_t i, const std::string& line) { problem("client " + std::to_string(i) + ": " + line); }

    void connect_pending() {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, m_plan.socket.c_str(), sizeof addr.sun_path - 1);
        for (std::size_t i = 0; i < m_conns.size(); ++i) {
            auto& c = m_conns[i];
            if (c.phase != Phase::connecting) continue;
            UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            if (!fd) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
            if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
                // The listen backlog is full: the daemon has not accepted the others yet.
                if (errno == EAGAIN) return;
                fail(i, std::string("connect: ") + std::strerror(errno));
                continue;
            }
            c.fd = std::move(fd);
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = i;
            if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, c.fd.get(), &ev) != 0)
                throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
            c.phase = Phase::hello;
            pb::Request req;
            req.set_id(hello_id(i));
            req.mutable_hello()->set_min_version(proto::kMinProtocolVersion);
            req.mutable_hello()->set_max_version(proto::kProtocolVersion);
            req.mutable_hello()->set_client("load test");
            queue(i, req);
        }
    }

    void queue(std::size_t i, const pb::Request& req) {
        proto::append_frame(m_conns[i].out, kVersion, req);
        flush(i);
    }

    void send_next(std::size_t i) {
        auto& c = m_conns[i];
        if (c.next >= m_plan.signatures_per_client) return;
        const auto& client = m_report.clients[i];
        const auto& r = client.requests[c.next];
        const auto& key = m_plan.keys[client.key];
        pb::Request req;
        req.set_id(r.id);
        req.mutable_sign()->set_key(key.id);
        req.mutable_sign()->set_hash(key.type == pb::KEY_TYPE_ED25519 ? pb::HASH_NONE : pb::HASH_SHA256);
        req.mutable_sign()->set_data(r.data.data(), r.data.size());
        c.in_flight.push_back(c.next);
        c.sent_at[c.next] = Clock::now();
        ++c.next;
        queue(i, req);
    }

    void flush(std::size_t i) {
        auto& c = m_conns[i];
        while (c.out_sent < c.out.size()) {
            const ssize_t k = ::send(c.fd.get(), c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
            if (k > 0) {
                c.out_sent += static_cast<std::size_t>(k);
                continue;
            }
            if (k < 0 && errno == EINTR) continue;
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            lost(i, std::string("send: ") + std::strerror(errno));
            return;
        }
        if (c.out_sent == c.out.size()) {
            c.out.clear();
            c.out_sent = 0;
        }
        const bool want = !c.out.empty();
        if (want != c.want_write) {
            epoll_event ev{};
            ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
            ev.data.u64 = i;
            ::epoll_ctl(m_epoll.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
            c.want_write = want;
        }
    }

    void wait_and_serve(std::chrono::milliseconds tick) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(m_deadline - Clock::now());
        const int timeout = static_cast<int>(std::max<std::int64_t>(0, std::min(left, tick).count()));
        std::array<epoll_event, 256> events{};
        const int n = ::epoll_wait(m_epoll.get(), events.data(), static_cast<int>(events.size()), timeout);
        if (n < 0) {
            if (errno == EINTR) return;
            throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        }
        for (int e = 0; e < n; ++e) {
            const auto i = static_cast<std::size_t>(events[e].data.u64);
            auto& c = m_conns[i];
            if (!c.fd) continue;
            if (events[e].events & EPOLLOUT) flush(i);
            if (c.fd && (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) receive(i);
        }
    }

    void receive(std::size_t i) {
        auto& c = m_conns[i];
        std::array<std::uint8_t, 16384> buf{};
        for (;;) {
            const ssize_t k = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
            if (k > 0) {
                c.in.insert(c.in.end(), buf.begin(), buf.begin() + k);
                continue;
            }
            if (k < 0 && errno == EINTR) continue;
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            parse(i);  // what came before the close still counts
            if (c.fd && c.phase == Phase::done) close(i);  // nothing was waiting
            else if (c.fd) lost(i, k == 0 ? "closed by trustkeyd" : std::string("recv: ") + std::strerror(errno));
            return;
        }
        parse(i);
    }

    void parse(std::size_t i) {
        auto& c = m_conns[i];
        std::size_t at = 0;
        while (c.fd && c.in.size() - at >= proto::kFrameHeaderSize) {
            const auto header = std::span<const std::uint8_t, proto::kFrameHeaderSize>(c.in.data() + at,
                                                                                       proto::kFrameHeaderSize);
            const auto len = proto::parse_frame_header(header);
            if (!len) {
                lost(i, "reply frame with a bad length");
                return;
            }
            if (c.in.size() - at - proto::kFrameHeaderSize < *len) break;
            const auto body = std::span<const std::uint8_t>(c.in.data() + at + proto::kFrameHeaderSize, *len);
            at += proto::kFrameHeaderSize + *len;
            const auto fb = proto::split_frame_body(body);
            pb::Response resp;
            std::string why;
            if (!fb || fb->version != kVersion || !proto::decode_response(fb->message, resp, why)) {
                lost(i, "undecodable reply" + (why.empty() ? std::string() : ": " + why));
                return;
            }
            handle(i, resp);
        }
        c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(std::min(at, c.in.size())));
    }

    void handle(std::size_t i, const pb::Response& resp) {
        auto& c = m_conns[i];
        if (c.phase == Phase::hello) {
            if (resp.id() != hello_id(i) || resp.status() != pb::STATUS_OK || !resp.has_hello()) {
                fail(i, "Hello answered with id " + std::to_string(resp.id()) + ", status " +
                            proto::status_name(resp.status()) + (resp.message().empty() ? "" : ": " + resp.message()));
                return;
            }
            c.phase = Phase::ready;
            ++m_report.negotiated;
            return;
        }
        if (c.phase != Phase::signing || c.in_flight.empty()) {
            ++m_report.wrong_id;
            problem(i, "reply id " + std::to_string(resp.id()) + " while no request was waiting");
            return;
        }
        const std::size_t j = c.in_flight.front();
        c.in_flight.pop_front();
        auto& r = m_report.clients[i].requests[j];
        r.answered = true;
        r.status = resp.status();
        ++c.answered;
        const auto now = Clock::now();
        m_last_reply = now;
        m_latencies.push_back(std::chrono::duration<double, std::milli>(now - c.sent_at[j]).count());
        if (resp.id() != r.id) {
            ++m_report.wrong_id;
            const std::size_t owner = client_of(resp.id());
            problem(i, "expected the reply to request " + std::to_string(r.id) + ", got id " +
                           std::to_string(resp.id()) +
                           (owner != i && owner < m_conns.size() ? " (client " + std::to_string(owner) + "'s)" : ""));
            r.status = pb::STATUS_INTERNAL;  // not this request's answer
        } else if (resp.status() != pb::STATUS_OK) {
            ++m_report.answered_failed;
            ++m_report.failed_statuses[proto::status_name(resp.status())];
            problem(i, "request " + std::to_string(j) + " answered " + proto::status_name(resp.status()) +
                           (resp.message().empty() ? "" : ": " + resp.message()));
        } else if (!resp.has_sign()) {
            ++m_report.answered_failed;
            ++m_report.failed_statuses["ok_without_signature"];
            problem(i, "request " + std::to_string(j) + " answered OK without a sign reply");
            r.status = pb::STATUS_INTERNAL;
        } else {
            ++m_report.answered_ok;
            r.signature = resp.sign().signature();
            r.key_id = resp.sign().key_id();
        }
        if (c.answered == m_plan.signatures_per_client) {
            c.phase = Phase::done;  // stays open until the end of the run
            return;
        }
        send_next(i);
    }

    // A client that never got to sign.
    void fail(std::size_t i, const std::string& why) {
        problem(i, why);
        close(i);
    }

    // A connection that went away: its unanswered requests are lost.
    void lost(std::size_t i, const std::string& why) {
        auto& c = m_conns[i];
        if (c.phase == Phase::signing) {
            ++m_report.connections_lost;
            problem(i, why + " with " + std::to_string(m_plan.signatures_per_client - c.answered) +
                           " signatures unanswered");
        } else {
            problem(i, why + (c.phase == Phase::hello ? " before answering Hello" : ""));
        }
        close(i);
    }

    void close(std::size_t i) {
        auto& c = m_conns[i];
        if (c.fd) ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        c.fd.reset();
        if (c.phase != Phase::done) c.phase = Phase::dead;
    }

    void finish() {
        for (std::size_t i = 0; i < m_conns.size(); ++i) m_conns[i].fd.reset();
        for (const auto& client : m_report.clients)
            for (const auto& r : client.requests)
                if (!r.answered) ++m_report.unanswered;
        if (m_latencies.empty()) return;
        std::sort(m_latencies.begin(), m_latencies.end());
        const auto at = [&](double q) {
            return m_latencies[std::min(m_latencies.size() - 1, static_cast<std::size_t>(q * m_latencies.size()))];
        };
        m_report.latency_p50_ms = at(0.50);
        m_report.latency_p99_ms = at(0.99);
        m_report.latency_max_ms = m_latencies.back();
    }

    const LoadPlan& m_plan;
    LoadReport& m_report;
    std::vector<Connection> m_conns;
    UniqueFd m_epoll;
    Clock::time_point m_deadline{};
    Clock::time_point m_last_reply{};
    std::vector<double> m_latencies;
};

} // namespace

std::size_t LoadReport::requests() const {
    std::size_t n = 0;
    for (const auto& c : clients) n += c.requests.size();
    return n;
}

std::string LoadReport::summary() const {
    std::ostringstream s;
    s << clients.size() << " clients, " << negotiated << " negotiated, " << open_at_start
      << " open when signing started; " << requests() << " requests: " << answered_ok << " ok, " << answered_failed
      << " failed";
    for (const auto& [name, n] : failed_statuses) s << " (" << name << ": " << n << ")";
    s << ", " << wrong_id << " with a wrong id, " << unanswered << " unanswered; " << connections_lost
      << " connections lost" << (deadline_passed ? "; DEADLINE PASSED" : "") << ".\n";
    s.setf(std::ios::fixed);
    s.precision(2);
    s << "connect " << connect_seconds << " s, sign " << sign_seconds << " s";
    if (sign_seconds > 0) s << " (" << static_cast<double>(answered_ok) / sign_seconds << " signatures/s)";
    s << ", latency p50 " << latency_p50_ms << " ms, p99 " << latency_p99_ms << " ms, max " << latency_max_ms
      << " ms.";
    for (const auto& p : problems) s << "\n  " << p;
    return s.str();
}

LoadReport run_load(const LoadPlan& plan) {
    LoadReport report;
    Run(plan, report).run();
    return report;
}

std::size_t raise_open_file_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) throw std::runtime_error("getrlimit(RLIMIT_NOFILE) failed");
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) throw std::runtime_error("setrlimit(RLIMIT_NOFILE) failed");
    }
    return lim.rlim_cur == RLIM_INFINITY ? static_cast<std::size_t>(-1) : static_cast<std::size_t>(lim.rlim_cur);
}

} // namespace trustkey::test
