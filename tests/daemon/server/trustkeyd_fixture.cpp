#include "tests/daemon/server/trustkeyd_fixture.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "lib/keys/public_key.h"
#include "lib/core/encoding.h"
#include "daemon/server/proto_convert.h"
#include "tests/fixtures/command.h"

namespace trustkey::test {

namespace fs = std::filesystem;

RawConnection::RawConnection(const fs::path& socket) {
    m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
    if (m_fd >= 0 && ::connect(m_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) close();
}

RawConnection::~RawConnection() { close(); }

void RawConnection::close() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
}

bool RawConnection::send_bytes(const std::vector<std::uint8_t>& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t k = ::send(m_fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (k <= 0) return false;
        sent += static_cast<std::size_t>(k);
    }
    return true;
}

std::vector<std::uint8_t> frame_of(const pb::Request& request, std::uint8_t version) {
    return proto::encode_frame(version, proto::encode_message(request));
}

bool RawConnection::send_request(const pb::Request& request, std::uint8_t version) {
    return send_bytes(frame_of(request, version));
}

bool RawConnection::hello() {
    pb::Request req;
    req.set_id(1);
    req.mutable_hello()->set_min_version(proto::kMinProtocolVersion);
    req.mutable_hello()->set_max_version(proto::kProtocolVersion);
    req.mutable_hello()->set_client("raw test");
    if (!send_request(req)) return false;
    const auto resp = read_response();
    return resp && resp->status() == pb::STATUS_OK && resp->has_hello() && resp->id() == 1;
}

bool RawConnection::read_exact(std::uint8_t* out, std::size_t n, std::chrono::steady_clock::time_point deadline) {
    std::size_t got = 0;
    while (got < n) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{m_fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
        const ssize_t k = ::recv(m_fd, out + got, n - got, 0);
        if (k <= 0) return false;
        got += static_cast<std::size_t>(k);
    }
    return true;
}

std::optional<pb::Response> RawConnection::read_response(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<std::uint8_t, 4> header{};
    if (!read_exact(header.data(), header.size(), deadline)) return std::nullopt;
    const auto len = proto::parse_frame_header(std::span<const std::uint8_t, 4>(header));
    if (!len) return std::nullopt;
    std::vector<std::uint8_t> body(*len);
    if (!read_exact(body.data(), body.size(), deadline)) return std::nullopt;
    const auto fb = proto::split_frame_body(body);
    if (!fb) return std::nullopt;
    pb::Response resp;
    std::string why;
    if (!proto::decode_response(fb->message, resp, why)) return std::nullopt;
    return resp;
}

bool RawConnection::closed_by_peer(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<std::uint8_t, 4096> buf{};
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{m_fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
        const ssize_t k = ::recv(m_fd, buf.data(), buf.size(), 0);
        if (k == 0) return true;
        if (k < 0) return errno == ECONNRESET;
    }
}

std::vector<std::uint8_t> digest_of(const std::string& text) { return sha256(as_bytes(text)); }

namespace {

std::vector<std::uint8_t> raw_ecdsa_to_der(const std::string& raw) {
    ECDSA_SIG* sig = ECDSA_SIG_new();
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
    const int half = static_cast<int>(raw.size() / 2);
    ECDSA_SIG_set0(sig, BN_bin2bn(p, half, nullptr), BN_bin2bn(p + half, half, nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig, &der);
    std::vector<std::uint8_t> out(der, der + (len > 0 ? len : 0));
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return out;
}

void write_file(const fs::path& p, const void* data, std::size_t n) {
    std::ofstream out(p, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}

} // namespace

void expect_valid_signature(const pb::KeyInfo& key, pb::HashAlgorithm hash, const std::vector<std::uint8_t>& data,
                            const std::string& signature) {
    const auto type = server::from_proto(key.type());
    const auto h = server::from_proto(hash);
    ASSERT_TRUE(type && h);
    const Bytes spki(key.public_key().begin(), key.public_key().end());
    const Bytes sig(signature.begin(), signature.end());
    EXPECT_EQ(sig.size(), backend::signature_size(*type));
    EXPECT_TRUE(backend::verify_signature(*type, spki, *h, data, sig)) << "key " << key.id();
    if (*type != backend::KeyType::ecdsa_p256) return;

    // Independent check: the openssl command line on the DER form of r||s.
    TempDir dir("trustkeyd-verify");
    const std::string pem = backend::spki_to_pem(spki);
    write_file(dir / "pub.pem", pem.data(), pem.size());
    write_file(dir / "digest.bin", data.data(), data.size());
    const auto der = raw_ecdsa_to_der(signature);
    write_file(dir / "sig.der", der.data(), der.size());
    const auto r = run_command("openssl pkeyutl -verify -pubin -inkey " + shell_quote((dir / "pub.pem").string()) +
                               " -in " + shell_quote((dir / "digest.bin").string()) + " -sigfile " +
                               shell_quote((dir / "sig.der").string()));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("Signature Verified Successfully"), std::string::npos) << r.output;
}

#ifndef TRUSTKEYD_PATH
#error "TRUSTKEYD_PATH must point at the trustkeyd binary"
#endif

void TrustkeydTest::TearDown() {
    if (!m_daemon) return;
    if (m_daemon->running()) {
        stop_and_check();
    } else if (const auto code = m_daemon->unexpected_exit(); code && *code != 0) {
        ADD_FAILURE() << "trustkeyd ended during the test with exit code " << *code << "; its log:\n"
                      << m_daemon->log();
    }
}

TrustkeydInstance::Options TrustkeydTest::options(std::vector<std::string> args) const {
    TrustkeydInstance::Options o;
    o.args = std::move(args);
    o.wait_until_ready = false;
    return o;
}

std::unique_ptr<TrustkeydInstance> TrustkeydTest::launch(TrustkeydInstance::Options opts) const {
    opts.wait_until_ready = false;
    return std::make_unique<TrustkeydInstance>(TRUSTKEYD_PATH, m_home, std::move(opts));
}

void TrustkeydTest::start(std::vector<std::string> args) { start(options(std::move(args))); }

void TrustkeydTest::start(TrustkeydInstance::Options opts) {
    m_daemon = launch(std::move(opts));
    ASSERT_TRUE(m_daemon->wait_ready()) << "trustkeyd did not come up:\n" << m_daemon->log();
}

void TrustkeydTest::stop_and_check() {
    ASSERT_TRUE(m_daemon);
    EXPECT_EQ(m_daemon->stop(), 0) << m_daemon->log();
    EXPECT_FALSE(fs::exists(fs::symlink_status(socket()))) << "socket left behind";
}

void TrustkeydTest::expect_serves() {
    ASSERT_TRUE(m_daemon && m_daemon->running()) << "trustkeyd died:\n" << (m_daemon ? m_daemon->log() : "");
    auto c = client();
    pb::KeyInfo key;
    try {
        key = c.public_key("probe");
    } catch (const proto::ClientError&) {
        key = c.generate_key("probe", pb::KEY_TYPE_ECDSA_P256);
    }
    const auto digest = digest_of("still serving");
    const auto reply = c.sign("probe", pb::HASH_SHA256, digest);
    EXPECT_EQ(reply.key_id(), key.id());
    expect_valid_signature(key, pb::HASH_SHA256, digest, reply.signature());
}

pb::Status request_status(const std::function<void()>& request, std::string* message) {
    try {
        request();
    } catch (const proto::ClientError& e) {
        if (message) *message = e.what();
        return e.status();
    }
    return pb::STATUS_OK;
}

} // namespace trustkey::test
