#include "trustkey/proto/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "lib/core/secure_bytes.h"
#include "lib/core/unique_fd.h"
#include "client_io.h"
#include "trustkey/proto/busy_retry.h"

namespace trustkey::proto {
namespace {

using namespace client_io;

// Frames `request` with `version`, refusing one the server could not take.
std::vector<std::uint8_t> frame_request(const pb::Request& request, std::uint8_t version, std::size_t max_frame) {
    const std::size_t message_size = request.ByteSizeLong();
    const std::size_t size = message_size + 1;
    if (size > max_frame) {
        throw ClientError(Kind::status, pb::STATUS_INVALID_ARGUMENT,
                          "request too large: " + std::to_string(size) + " bytes, the frame limit is " +
                              std::to_string(max_frame));
    }
    std::vector<std::uint8_t> frame;
    frame.reserve(kFrameHeaderSize + size);
    append_frame(frame, version, request, message_size);
    return frame;
}

// Checks that `resp` answers the request with `id` and body `body`; throws otherwise.
void check_response(const pb::Response& resp, std::uint64_t id, int body) {
    if (resp.status() != pb::STATUS_OK) {
        // Id 0 is how the server answers a request it could not read.
        if (resp.id() != id && resp.id() != 0) {
            fail(Kind::protocol, "trustkeyd answered request " + std::to_string(resp.id()) + ", expected " +
                                     std::to_string(id));
        }
        std::string msg = resp.message().empty() ? std::string("trustkeyd answered ") + status_name(resp.status())
                                                 : resp.message();
        throw ClientError(Kind::status, resp.status(), std::move(msg),
                          {resp.candidates().begin(), resp.candidates().end()}, resp.pin(), resp.backend());
    }
    if (resp.id() != id) {
        fail(Kind::protocol,
             "trustkeyd answered request " + std::to_string(resp.id()) + ", expected " + std::to_string(id));
    }
    if (static_cast<int>(resp.body_case()) != body) {
        fail(Kind::protocol, "trustkeyd answered with the wrong reply type");
    }
}

bool is_busy(const ClientError& e) noexcept {
    return e.kind() == Kind::status && e.status() == pb::STATUS_BUSY;
}

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

} // namespace

std::chrono::milliseconds BusyRetry::delay(std::size_t retry) const {
    auto d = first_delay;
    for (std::size_t i = 1; i < retry && d < max_delay; ++i) d *= 2;
    d = std::min(d, max_delay);
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<std::int64_t> jitter(d.count() / 2, d.count());
    return std::chrono::milliseconds(jitter(rng));
}

ClientError::ClientError(Kind kind, pb::Status status, std::string message, std::vector<std::string> candidates,
                         pb::PinInfo pin, std::string backend)
    : std::runtime_error(std::move(message)),
      m_kind(kind),
      m_status(status),
      m_candidates(std::move(candidates)),
      m_pin(std::move(pin)),
      m_backend(std::move(backend)) {}

std::string Client::default_socket_path() {
    if (auto sock = env_or_empty("TRUSTKEY_SOCK"); !sock.empty()) return sock;
    if (auto run = env_or_empty("XDG_RUNTIME_DIR"); !run.empty()) return run + "/trustkey/agent.sock";
    // No runtime directory in the environment: the login manager's one if it exists, else a
    // per-user directory under /tmp (trustkeyd refuses it when another user owns it).
    const std::string uid = std::to_string(::getuid());
    struct stat st {};
    if (::stat(("/run/user/" + uid).c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::getuid())
        return "/run/user/" + uid + "/trustkey/agent.sock";
    return "/tmp/trustkey-" + uid + "/agent.sock";
}

Client Client::connect_once(const std::string& socket_path, std::chrono::milliseconds timeout) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
        fail(Kind::io, "socket path is empty or longer than " + std::to_string(sizeof(addr.sun_path) - 1) +
                           " bytes: " + socket_path);
    }
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());

    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) fail_errno("socket", errno);
    // The socket blocks, with both directions bounded by the timeout: a blocking connect waits
    // while the listener's backlog is full (SO_SNDTIMEO), and a reply is read by a blocking
    // read (SO_RCVTIMEO). Writes and pipelined reads pass MSG_DONTWAIT and wait with poll.
    const auto ms = std::clamp<std::int64_t>(timeout.count(), 1, kMaxWaitMs);
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        fail_errno("setsockopt", errno);
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno == EISCONN) rc = 0;  // completed during an interrupted attempt
    if (rc < 0) {
        const int err = errno;
        if (err == ENOENT || err == ECONNREFUSED) {
            throw ClientError(Kind::not_running, pb::STATUS_OK,
                              "trustkeyd is not running at " + socket_path +
                                  " (start it with: trustkeyd, or set TRUSTKEY_SOCK)");
        }
        if (err == EAGAIN || err == EINPROGRESS) fail(Kind::io, "timed out connecting to trustkeyd at " + socket_path);
        fail_errno(("connect to " + socket_path).c_str(), err);
    }
    Client c;
    c.m_fd = fd.release();
    c.m_timeout = timeout;
    c.m_path = socket_path;
    c.m_version = static_cast<std::uint8_t>(kMinProtocolVersion);  // Hello always travels as version 1

    pb::Request req;
    pb::Hello* hello = req.mutable_hello();
    hello->set_min_version(kMinProtocolVersion);
    hello->set_max_version(kProtocolVersion);
    hello->set_client("trustkey-client");
    req.set_id(c.m_next_id++);
    // Over its connection cap the daemon answers STATUS_BUSY at once and closes: that answer
    // may already wait to be read when sending the Hello fails.
    std::optional<ClientError> send_failed;
    try {
        c.send(req);
    } catch (const ClientError& e) {
        if (e.kind() != Kind::io) throw;
        send_failed = e;
    }
    pb::Response resp;
    try {
        resp = c.receive();
    } catch (const ClientError&) {
        if (send_failed) throw *send_failed;
        throw;
    }
    check_response(resp, req.id(), static_cast<int>(pb::Request::kHello));
    const std::uint32_t v = resp.hello().version();
    if (v < kMinProtocolVersion || v > kProtocolVersion) {
        fail(Kind::protocol, "trustkeyd chose protocol version " + std::to_string(v) + ", which this client does not speak");
    }
    if (resp.hello().max_frame() != 0 && resp.hello().max_frame() < 64) {
        fail(Kind::protocol, "trustkeyd announced an unusable frame limit");
    }
    c.m_version = static_cast<std::uint8_t>(v);
    c.m_hello = resp.hello();
    return c;
}

Client Client::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
    const BusyRetry retry;
    for (std::size_t attempt = 1;; ++attempt) {
        try {
            return connect_once(socket_path, timeout);
        } catch (const ClientError& e) {
            if (!is_busy(e) || attempt >= retry.attempts) throw;
        }
        std::this_thread::sleep_for(retry.delay(attempt));
    }
}

Client::Client(Client&& o) noexcept
    : m_fd(std::exchange(o.m_fd, -1)),
      m_next_id(o.m_next_id),
      m_version(o.m_version),
      m_timeout(o.m_timeout),
      m_path(std::move(o.m_path)),
      m_hello(std::move(o.m_hello)) {}

Client& Client::operator=(Client&& o) noexcept {
    if (this != &o) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = std::exchange(o.m_fd, -1);
        m_next_id = o.m_next_id;
        m_version = o.m_version;
        m_timeout = o.m_timeout;
        m_path = std::move(o.m_path);
        m_hello = std::move(o.m_hello);
    }
    return *this;
}

Client::~Client() {
    if (m_fd >= 0) ::close(m_fd);
}

std::uint32_t Client::batch_limit(pb::KeyType type) const noexcept {
    if (type == pb::KEY_TYPE_UNSPECIFIED) type = pb::KEY_TYPE_ECDSA_P256;
    for (const auto& l : m_hello.batch_limits()) {
        if (l.key_type() == type) return l.max_items();
    }
    switch (type) {
    case pb::KEY_TYPE_ECDSA_P256: return kBatchLimitEcdsaP256;
    case pb::KEY_TYPE_ED25519: return kBatchLimitEd25519;
    case pb::KEY_TYPE_RSA_2048: return kBatchLimitRsa2048;
    case pb::KEY_TYPE_RSA_4096: return kBatchLimitRsa4096;
    default: return 0;
    }
}

void Client::send(const pb::Request& request) {
    if (m_fd < 0) fail(Kind::io, "the connection to trustkeyd is closed");
    const std::size_t max_frame = m_hello.max_frame() != 0 ? m_hello.max_frame() : kDefaultMaxFrame;
    std::vector<std::uint8_t> frame = frame_request(request, m_version, max_frame);
    try {
        write_all(m_fd, frame, m_timeout);
    } catch (...) {
        wipe(frame);
        throw;
    }
    wipe(frame);
}

pb::Response Client::receive() {
    if (m_fd < 0) fail(Kind::io, "the connection to trustkeyd is closed");
    // Requests go one at a time, so exactly one reply is due: a blocking read (bounded by the
    // socket's receive timeout) usually brings it whole.
    FrameReader reader;
    while (!reader.step(m_fd, true)) {
    }
    pb::Response resp = reader.take(m_version);
    if (reader.buffered() > 0) fail(Kind::protocol, "trustkeyd sent more than the one reply due");
    return resp;
}

pb::Response Client::call(pb::Request& request) {
    const BusyRetry retry;
    for (std::size_t attempt = 1;; ++attempt) {
        try {
            return call_once(request);
        } catch (const ClientError& e) {
            if (!is_busy(e) || attempt >= retry.attempts) throw;
        }
        std::this_thread::sleep_for(retry.delay(attempt));
    }
}

pb::Response Client::call_once(pb::Request& request) {
    request.set_id(m_next_id++);
    try {
        send(request);
        pb::Response resp = receive();
        check_response(resp, request.id(), static_cast<int>(request.body_case()));
        return resp;
    } catch (const ClientError& e) {
        // After a broken or unreadable exchange the stream position is unknown.
        if (e.kind() != Kind::status && m_fd >= 0) {
            ::close(m_fd);
            m_fd = -1;
        }
        throw;
    }
}

std::vector<pb::KeyInfo> Client::list_keys() {
    const pb::ListKeysReply reply = list_keys_reply();
    return {reply.keys().begin(), reply.keys().end()};
}

pb::ListKeysReply Client::list_keys_reply() {
    pb::Request req;
    req.mutable_list_keys();
    pb::Response resp = call(req);
    return std::move(*resp.mutable_list_keys());
}

pb::KeyInfo Client::public_key(std::string_view key_ref) {
    pb::Request req;
    req.mutable_get_public_key()->set_key(std::string(key_ref));
    return call(req).get_public_key().key();
}

pb::KeyInfo Client::generate_key(std::string_view name, pb::KeyType type, std::string_view backend,
                                 std::string_view auth) {
    pb::Request req;
    pb::GenerateKey* g = req.mutable_generate_key();
    g->set_name(std::string(name));
    g->set_type(type);
    g->set_backend(std::string(backend));
    g->set_auth(auth.data(), auth.size());
    struct Wiper {
        pb::GenerateKey* m;
        ~Wiper() { wipe(*m->mutable_auth()); }
    } wiper{g};
    return call(req).generate_key().key();
}

pb::KeyInfo Client::import_key(std::string_view name, std::string_view pem, std::string_view passphrase,
                               std::string_view backend, std::string_view auth) {
    pb::Request req;
    pb::ImportKey* imp = req.mutable_import_key();
    imp->set_auth(auth.data(), auth.size());
    imp->set_name(std::string(name));
    imp->set_pem(pem.data(), pem.size());
    imp->set_passphrase(passphrase.data(), passphrase.size());
    imp->set_backend(std::string(backend));
    // The PEM may hold an unencrypted private key: wipe both secrets whatever happens.
    struct Wiper {
        pb::ImportKey* m;
        ~Wiper() {
            wipe(*m->mutable_pem());
            wipe(*m->mutable_passphrase());
            wipe(*m->mutable_auth());
        }
    } wiper{imp};
    return call(req).import_key().key();
}

pb::SignReply Client::sign(std::string_view key_ref, pb::HashAlgorithm hash, std::span<const std::uint8_t> data) {
    pb::Request req;
    pb::Sign* s = req.mutable_sign();
    s->set_key(std::string(key_ref));
    s->set_hash(hash);
    s->set_data(data.data(), data.size());
    pb::Response resp = call(req);
    return std::move(*resp.mutable_sign());
}

pb::SignBatchReply Client::sign_batch(std::string_view key_ref, pb::HashAlgorithm hash,
                                      std::span<const std::vector<std::uint8_t>> items) {
    pb::Request req;
    pb::SignBatch* b = req.mutable_sign_batch();
    b->set_key(std::string(key_ref));
    b->set_hash(hash);
    for (const auto& item : items) b->add_items(item.data(), item.size());
    pb::Response resp = call(req);
    if (static_cast<std::size_t>(resp.sign_batch().signatures_size()) != items.size()) {
        throw ClientError(Kind::protocol, pb::STATUS_OK, "trustkeyd returned a different number of signatures");
    }
    return resp.sign_batch();
}

void Client::delete_key(std::string_view key_ref) {
    pb::Request req;
    req.mutable_delete_key()->set_key(std::string(key_ref));
    call(req);
}

pb::KeyInfo Client::annotate_key(std::string_view key_ref, std::span<const pb::KeyUse> uses,
                                 std::span<const std::string> certificates) {
    pb::Request req;
    pb::AnnotateKey* a = req.mutable_annotate_key();
    a->set_key(std::string(key_ref));
    for (const auto& use : uses) *a->add_uses() = use;
    for (const auto& cert : certificates) a->add_certificates(cert);
    return call(req).annotate_key().key();
}

pb::StatusReply Client::status() {
    pb::Request req;
    req.mutable_get_status();
    return call(req).get_status();
}

pb::StopReply Client::stop() {
    pb::Request req;
    req.mutable_stop();
    return call(req).stop();
}

std::vector<std::vector<std::uint8_t>> Client::sign_pipelined(std::string_view key_ref, pb::HashAlgorithm hash,
                                                              std::span<const std::vector<std::uint8_t>> items,
                                                              std::size_t window) {
    if (m_fd < 0) fail(Kind::io, "the connection to trustkeyd is closed");
    if (window == 0) window = 1;
    const std::size_t max_frame = m_hello.max_frame() != 0 ? m_hello.max_frame() : kDefaultMaxFrame;
    const int sign_body = static_cast<int>(pb::Request::kSign);

    std::vector<std::vector<std::uint8_t>> signatures;
    signatures.reserve(items.size());
    std::deque<std::pair<std::uint64_t, std::size_t>> in_flight;  // (id, item) sent and not yet answered
    std::vector<std::size_t> busy;        // items the daemon had no room for: signed again below
    std::vector<std::uint8_t> out;        // the frame being written
    std::size_t out_off = 0;
    std::size_t next = 0;                 // next item to send
    std::optional<ClientError> first_error;  // a refused item: stop sending, drain, then throw
    FrameReader reader;

    try {
        for (;;) {
            const bool sending = !first_error && next < items.size();
            if (out_off == out.size() && sending && in_flight.size() < window) {
                pb::Request req;
                req.set_id(m_next_id++);
                pb::Sign* s = req.mutable_sign();
                s->set_key(std::string(key_ref));
                s->set_hash(hash);
                s->set_data(items[next].data(), items[next].size());
                try {
                    out = frame_request(req, m_version, max_frame);
                    out_off = 0;
                    in_flight.emplace_back(req.id(), next);
                    ++next;
                } catch (const ClientError& e) {
                    first_error = e;
                }
                continue;
            }
            if (out_off < out.size()) {
                out_off = write_some(m_fd, out, out_off);
                if (out_off == out.size()) continue;
            }
            if (in_flight.empty()) break;  // nothing to write, nothing to read

            if (!reader.has_frame()) {
                const short want = static_cast<short>(POLLIN | (out_off < out.size() ? POLLOUT : 0));
                const short got = wait_for(m_fd, want, m_timeout);
                if ((got & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
                if (!reader.step(m_fd, false)) continue;
            }
            pb::Response resp = reader.take(m_version);
            const auto [id, item] = in_flight.front();
            in_flight.pop_front();
            try {
                check_response(resp, id, sign_body);
                signatures.emplace_back(resp.sign().signature().begin(), resp.sign().signature().end());
            } catch (const ClientError& e) {
                if (e.kind() != Kind::status) throw;
                if (is_busy(e)) {
                    busy.push_back(item);
                    signatures.emplace_back();
                } else if (!first_error) {
                    first_error = e;
                }
            }
        }
    } catch (const ClientError&) {
        ::close(m_fd);
        m_fd = -1;
        throw;
    }
    if (first_error) throw *first_error;
    // One at a time now, each with the backoff of call().
    for (std::size_t item : busy) {
        const pb::SignReply reply = sign(key_ref, hash, items[item]);
        signatures[item].assign(reply.signature().begin(), reply.signature().end());
    }
    return signatures;
}

} // namespace trustkey::proto
