// The client library every trustkey tool uses to talk to trustkeyd. Tools never
// speak raw frames. Not thread-safe: use one Client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "trustkey/proto/codec.h"
#include "trustkey/proto/frame.h"

namespace trustkey::proto {

// A failed request, or a failure to reach or talk to the daemon.
class ClientError : public std::runtime_error {
public:
    enum class Kind {
        status,        // the daemon answered with a non-OK status
        not_running,   // nothing listens at the socket path
        io,            // the connection broke
        protocol,      // the daemon answered something unreadable
    };
    ClientError(Kind kind, pb::Status status, std::string message, std::vector<std::string> candidates = {},
                pb::PinInfo pin = {}, std::string backend = {});
    Kind kind() const noexcept { return m_kind; }
    pb::Status status() const noexcept { return m_status; }
    const std::vector<std::string>& candidates() const noexcept { return m_candidates; }
    const pb::PinInfo& pin() const noexcept { return m_pin; }
    // The backend the failure is about (Response.backend); empty when the daemon named none.
    const std::string& backend() const noexcept { return m_backend; }

private:
    Kind m_kind;
    pb::Status m_status;
    std::vector<std::string> m_candidates;
    pb::PinInfo m_pin;
    std::string m_backend;
};

class Client {
public:
    // $TRUSTKEY_SOCK, else $XDG_RUNTIME_DIR/trustkey/agent.sock, else /run/user/<uid>/trustkey/agent.sock
    // when that directory exists and is ours, else /tmp/trustkey-<uid>/agent.sock.
    static std::string default_socket_path();

    // Connects and negotiates the version (Hello). Throws ClientError (not_running when
    // nothing listens, with the path and how to start the daemon in the message). A daemon at
    // its connection cap (STATUS_BUSY) is tried again with backoff (busy_retry.h) first.
    static Client connect(const std::string& socket_path = default_socket_path(),
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client();

    const pb::HelloReply& server_hello() const noexcept { return m_hello; }
    // Largest SignBatch the server accepts for keys of this type.
    std::uint32_t batch_limit(pb::KeyType type) const noexcept;

    // The keys of every backend that could be read (the others are left out: see list_keys_reply()).
    std::vector<pb::KeyInfo> list_keys();
    // The keys, and the backends that could not be read with why.
    pb::ListKeysReply list_keys_reply();
    pb::KeyInfo public_key(std::string_view key_ref);
    // `auth`: the key's own authorization value (TPM); empty: none. Wiped from the client's buffers.
    pb::KeyInfo generate_key(std::string_view name, pb::KeyType type, std::string_view backend = {},
                             std::string_view auth = {});
    pb::KeyInfo import_key(std::string_view name, std::string_view pem, std::string_view passphrase = {},
                           std::string_view backend = {}, std::string_view auth = {});
    pb::SignReply sign(std::string_view key_ref, pb::HashAlgorithm hash, std::span<const std::uint8_t> data);
    // One SignBatch request (must fit the server's batch limit).
    pb::SignBatchReply sign_batch(std::string_view key_ref, pb::HashAlgorithm hash,
                                  std::span<const std::vector<std::uint8_t>> items);
    // Many Sign requests pipelined on this connection, at most `window` in flight;
    // returns the signatures in order.
    std::vector<std::vector<std::uint8_t>> sign_pipelined(std::string_view key_ref, pb::HashAlgorithm hash,
                                                          std::span<const std::vector<std::uint8_t>> items,
                                                          std::size_t window = 32);
    void delete_key(std::string_view key_ref);
    // Records uses ({repository, role}) and certificates (each DER or PEM) with the key;
    // returns the key with everything it now carries.
    pb::KeyInfo annotate_key(std::string_view key_ref, std::span<const pb::KeyUse> uses,
                             std::span<const std::string> certificates = {});
    pb::StatusReply status();
    // The PIN is sent once and wiped from the client's buffers.
    void login(std::string_view backend, std::string_view pin);
    // The own authorization value of the key `key_ref`, kept by the daemon for later use.
    void login_key(std::string_view key_ref, std::string_view auth);
    // Asks the daemon to stop; it replies first, then stops and removes its socket.
    pb::StopReply stop();
    // Locks the daemon: its tokens are logged out and its keys refused (STATUS_LOCKED) until unlock().
    void lock();
    // Unlocks it with the PIN of `backend`'s token (empty: the first that checks a PIN), sent once
    // and wiped; returns the backend whose PIN was checked (empty when none checks one).
    std::string unlock(std::string_view backend, std::string_view pin);

    // Low level: sends one request (id assigned here) and returns the response; throws
    // ClientError for a non-OK status. STATUS_BUSY (the daemon's queue for the key is full)
    // is tried again with backoff (busy_retry.h) before it is thrown.
    pb::Response call(pb::Request& request);

private:
    Client() = default;
    static Client connect_once(const std::string& socket_path, std::chrono::milliseconds timeout);
    pb::Response call_once(pb::Request& request);
    // call() for a Login request carrying `secret` as its pin; the copy is wiped afterwards.
    // Sends `request` with `secret` in `field` (a field of `request`), wiped once sent.
    pb::Response call_with_secret(pb::Request& request, std::string* field, std::string_view secret);
    void send(const pb::Request& request);
    pb::Response receive();

    int m_fd = -1;
    std::uint64_t m_next_id = 1;
    std::uint8_t m_version = 0;
    std::chrono::milliseconds m_timeout{30000};
    std::string m_path;
    pb::HelloReply m_hello;
};

} // namespace trustkey::proto
