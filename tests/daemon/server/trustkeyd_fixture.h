// Test fixture: a temporary home for trustkeyd (runtime, data and config
// directories), the running daemon (tests/fixtures/trustkeyd_instance.h), clients
// and raw-socket helpers.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/fixtures/temp_dir.h"
#include "tests/fixtures/trustkeyd_home.h"
#include "tests/fixtures/trustkeyd_instance.h"
#include "trustkey/proto/client.h"

namespace trustkey::test {

namespace pb = proto::pb;

// A raw connection for sending hand-made bytes.
class RawConnection {
public:
    explicit RawConnection(const std::filesystem::path& socket);
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;
    ~RawConnection();

    bool connected() const noexcept { return m_fd >= 0; }
    int fd() const noexcept { return m_fd; }
    bool send_bytes(const std::vector<std::uint8_t>& bytes);
    // One request framed with `version`.
    bool send_request(const pb::Request& request, std::uint8_t version = proto::kProtocolVersion);
    // Sends a Hello and checks the reply.
    bool hello();
    // The next response, or nullopt when the connection closed or nothing came in time.
    std::optional<pb::Response> read_response(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // True when the daemon closes the connection within `timeout` (unread replies are skipped).
    bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    void close();

private:
    bool read_exact(std::uint8_t* out, std::size_t n, std::chrono::steady_clock::time_point deadline);
    int m_fd = -1;
};

// The status a request answered: STATUS_OK when it did not fail, else the ClientError's
// status, its message in `message` when given.
pb::Status request_status(const std::function<void()>& request, std::string* message = nullptr);

std::vector<std::uint8_t> frame_of(const pb::Request& request, std::uint8_t version = proto::kProtocolVersion);
std::vector<std::uint8_t> digest_of(const std::string& text);
// Verifies with the library and, for ECDSA, also with the openssl command line.
void expect_valid_signature(const pb::KeyInfo& key, pb::HashAlgorithm hash, const std::vector<std::uint8_t>& data,
                            const std::string& signature);

class TrustkeydTest : public ::testing::Test {
protected:
    void TearDown() override;

    std::filesystem::path socket() const { return m_home.default_socket(); }
    // Options for a daemon in m_home with `args`; the caller waits for it.
    TrustkeydInstance::Options options(std::vector<std::string> args = {}) const;
    // A daemon in m_home, not waited for.
    std::unique_ptr<TrustkeydInstance> launch(TrustkeydInstance::Options opts) const;
    // Starts the daemon and waits for its socket; fails the test if it does not come up.
    void start(std::vector<std::string> args = {});
    void start(TrustkeydInstance::Options opts);
    // Stops it with SIGTERM, expecting exit code 0 and the socket removed.
    void stop_and_check();
    std::string write_config(const std::string& toml) const { return m_home.write_config(toml); }

    proto::Client client() const { return proto::Client::connect(socket().string()); }
    // Asserts the daemon is alive and makes and verifies one signature.
    void expect_serves();

    TrustkeydHome m_home{"trustkeyd-test"};
    std::unique_ptr<TrustkeydInstance> m_daemon;
};

} // namespace trustkey::test
