// Bad and hostile input on the socket: the daemon answers with a status or
// closes that one connection, and keeps serving everyone else.
#include <signal.h>
#include <sys/socket.h>

#include <functional>
#include <thread>

#include "tests/daemon/server/trustkeyd_fixture.h"

namespace trustkey::test {
namespace {

using ProtocolTest = TrustkeydTest;

std::vector<std::uint8_t> header_of(std::uint32_t len) {
    return {static_cast<std::uint8_t>(len >> 24), static_cast<std::uint8_t>(len >> 16),
            static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
}

pb::Request sign_request(std::uint64_t id, const std::string& key, pb::HashAlgorithm hash,
                         const std::vector<std::uint8_t>& data) {
    pb::Request req;
    req.set_id(id);
    req.mutable_sign()->set_key(key);
    req.mutable_sign()->set_hash(hash);
    req.mutable_sign()->set_data(data.data(), data.size());
    return req;
}

pb::Status status_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.kind(), proto::ClientError::Kind::status) << e.what();
        EXPECT_FALSE(std::string(e.what()).empty());
        return e.status();
    }
    return pb::STATUS_OK;
}

TEST_F(ProtocolTest, TruncatedFrameThenClose) {
    start();
    {
        RawConnection raw(socket());
        ASSERT_TRUE(raw.hello());
        auto bytes = header_of(100);
        bytes.insert(bytes.end(), 10, 0x01);
        ASSERT_TRUE(raw.send_bytes(bytes));
    }
    expect_serves();
}

TEST_F(ProtocolTest, StalledPartialFrameIsClosed) {
    start({"--config", write_config("frame_timeout_seconds = 1\n")});
    RawConnection raw(socket());
    ASSERT_TRUE(raw.hello());
    ASSERT_TRUE(raw.send_bytes({0x00, 0x00}));  // half a header, then nothing
    EXPECT_TRUE(raw.closed_by_peer(std::chrono::seconds(15)));
    expect_serves();
}

TEST_F(ProtocolTest, OversizedLengthClosesOnlyThatConnection) {
    start();
    RawConnection other(socket());
    ASSERT_TRUE(other.hello());
    for (std::uint32_t len : {static_cast<std::uint32_t>(proto::kDefaultMaxFrame + 1), 0xffffffffu}) {
        RawConnection raw(socket());
        ASSERT_TRUE(raw.hello());
        ASSERT_TRUE(raw.send_bytes(header_of(len)));
        EXPECT_TRUE(raw.closed_by_peer()) << "length " << len;
    }
    // The connection opened before is still served.
    const auto key = client().generate_key("k", pb::KEY_TYPE_ECDSA_P256);
    ASSERT_TRUE(other.send_request(sign_request(9, key.id(), pb::HASH_SHA256, digest_of("x"))));
    const auto resp = other.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_OK) << resp->message();
    EXPECT_EQ(resp->id(), 9u);
    expect_valid_signature(key, pb::HASH_SHA256, digest_of("x"), resp->sign().signature());
    expect_serves();
}

TEST_F(ProtocolTest, ZeroLengthFrameCloses) {
    start();
    RawConnection raw(socket());
    ASSERT_TRUE(raw.send_bytes(header_of(0)));
    EXPECT_TRUE(raw.closed_by_peer());
    expect_serves();
}

TEST_F(ProtocolTest, UnknownVersionByte) {
    start();
    RawConnection raw(socket());
    pb::Request hello;
    hello.set_id(3);
    hello.mutable_hello()->set_min_version(1);
    hello.mutable_hello()->set_max_version(1);
    ASSERT_TRUE(raw.send_request(hello, 7));
    auto resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_UNSUPPORTED_VERSION);
    EXPECT_FALSE(resp->message().empty());
    // The same connection can still negotiate, and then a frame of another version is refused.
    ASSERT_TRUE(raw.hello());
    ASSERT_TRUE(raw.send_request(sign_request(4, "whatever", pb::HASH_SHA256, digest_of("x")), 2));
    resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_UNSUPPORTED_VERSION);
    expect_serves();
}

TEST_F(ProtocolTest, HelloWithoutCommonVersion) {
    start();
    RawConnection raw(socket());
    pb::Request hello;
    hello.set_id(5);
    hello.mutable_hello()->set_min_version(9);
    hello.mutable_hello()->set_max_version(12);
    ASSERT_TRUE(raw.send_request(hello));
    const auto resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_UNSUPPORTED_VERSION);
    EXPECT_EQ(resp->id(), 5u);
    expect_serves();
}

TEST_F(ProtocolTest, GarbageBytes) {
    start();
    {
        // Text where a header belongs reads as a huge length: the connection is closed.
        RawConnection raw(socket());
        const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        ASSERT_TRUE(raw.send_bytes({junk.begin(), junk.end()}));
        EXPECT_TRUE(raw.closed_by_peer());
    }
    {
        // A well-framed body that is not a message: MALFORMED, and the connection lives on.
        RawConnection raw(socket());
        ASSERT_TRUE(raw.hello());
        std::vector<std::uint8_t> body{0xff, 0xff, 0xff, 0xff, 0x0f, 0x13, 0x37};
        ASSERT_TRUE(raw.send_bytes(proto::encode_frame(1, body)));
        const auto resp = raw.read_response();
        ASSERT_TRUE(resp);
        EXPECT_EQ(resp->status(), pb::STATUS_MALFORMED);
        EXPECT_EQ(resp->id(), 0u);
        ASSERT_TRUE(raw.send_request(sign_request(6, "nokey", pb::HASH_SHA256, digest_of("x"))));
        const auto next = raw.read_response();
        ASSERT_TRUE(next);
        EXPECT_EQ(next->id(), 6u);
        EXPECT_EQ(next->status(), pb::STATUS_KEY_NOT_FOUND);
    }
    expect_serves();
}

TEST_F(ProtocolTest, ValidMessageWithTrailingBytesIsMalformed) {
    start();
    RawConnection raw(socket());
    ASSERT_TRUE(raw.hello());
    pb::Request req;
    req.set_id(8);
    req.mutable_list_keys();
    auto msg = proto::encode_message(req);
    msg.push_back(0x00);
    msg.push_back(0x00);
    ASSERT_TRUE(raw.send_bytes(proto::encode_frame(1, msg)));
    const auto resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_MALFORMED);
    expect_serves();
}

TEST_F(ProtocolTest, EmptyBodyIsUnknownRequest) {
    start();
    RawConnection raw(socket());
    ASSERT_TRUE(raw.hello());
    pb::Request req;
    req.set_id(11);
    ASSERT_TRUE(raw.send_request(req));
    const auto resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_UNKNOWN_REQUEST);
    EXPECT_EQ(resp->id(), 11u);
    expect_serves();
}

TEST_F(ProtocolTest, RequestBeforeHello) {
    start();
    RawConnection raw(socket());
    pb::Request req;
    req.set_id(12);
    req.mutable_list_keys();
    ASSERT_TRUE(raw.send_request(req));
    const auto resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_NOT_NEGOTIATED);
    EXPECT_EQ(resp->id(), 12u);
    EXPECT_FALSE(resp->has_list_keys());
    expect_serves();
}

TEST_F(ProtocolTest, SecondHelloRefused) {
    start();
    RawConnection raw(socket());
    ASSERT_TRUE(raw.hello());
    pb::Request hello;
    hello.set_id(13);
    hello.mutable_hello()->set_min_version(1);
    hello.mutable_hello()->set_max_version(1);
    ASSERT_TRUE(raw.send_request(hello));
    const auto resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_NOT_NEGOTIATED);
    EXPECT_EQ(resp->id(), 13u);
    expect_serves();
}

TEST_F(ProtocolTest, ClientVanishingMidRequest) {
    start();
    const auto key = client().generate_key("v", pb::KEY_TYPE_RSA_2048);
    {
        RawConnection raw(socket());
        ASSERT_TRUE(raw.hello());
        const auto frame = frame_of(sign_request(20, key.id(), pb::HASH_SHA256, digest_of("half")));
        ASSERT_TRUE(raw.send_bytes({frame.begin(), frame.begin() + static_cast<long>(frame.size() / 2)}));
    }
    {
        // Many requests, then gone before the replies: the daemon's writes fail (EPIPE).
        RawConnection raw(socket());
        ASSERT_TRUE(raw.hello());
        std::vector<std::uint8_t> all;
        for (int i = 0; i < 40; ++i) {
            const auto f = frame_of(sign_request(30 + i, key.id(), pb::HASH_SHA256, digest_of("gone")));
            all.insert(all.end(), f.begin(), f.end());
        }
        ASSERT_TRUE(raw.send_bytes(all));
    }
    expect_serves();
}

TEST_F(ProtocolTest, RequestsThenHalfCloseAreAnsweredAndTheConnectionEnds) {
    // A client that sends its requests and shuts down its sending side at once (as a shell
    // pipe into a socket does) gets every reply, then the daemon closes: the end of file is
    // seen although it came with the requests, not after them. The daemon is stopped while
    // they are sent, so that it finds the requests and the end of file waiting together.
    start({"--config", write_config("idle_timeout_seconds = 600\n")});
    const auto key = client().generate_key("hc", pb::KEY_TYPE_ECDSA_P256);
    for (int n : {1, 3}) {
        RawConnection raw(socket());
        ASSERT_TRUE(raw.hello());
        std::vector<std::uint8_t> all;
        for (int i = 0; i < n; ++i) {
            const auto f = frame_of(sign_request(40 + i, key.id(), pb::HASH_SHA256, digest_of("hc")));
            all.insert(all.end(), f.begin(), f.end());
        }
        ASSERT_EQ(::kill(m_daemon->pid(), SIGSTOP), 0);
        const bool sent = raw.send_bytes(all) && ::shutdown(raw.fd(), SHUT_WR) == 0;
        ASSERT_EQ(::kill(m_daemon->pid(), SIGCONT), 0);
        ASSERT_TRUE(sent);
        for (int i = 0; i < n; ++i) {
            const auto resp = raw.read_response(std::chrono::seconds(10));
            ASSERT_TRUE(resp) << "reply " << i << " of " << n;
            EXPECT_EQ(resp->status(), pb::STATUS_OK);
            EXPECT_EQ(resp->id(), static_cast<std::uint64_t>(40 + i));
            expect_valid_signature(key, pb::HASH_SHA256, digest_of("hc"), resp->sign().signature());
        }
        // Closed long before the ten-minute idle deadline.
        EXPECT_TRUE(raw.closed_by_peer(std::chrono::seconds(10)));
    }
    expect_serves();
}

TEST_F(ProtocolTest, UnknownKey) {
    start();
    auto c = client();
    EXPECT_EQ(status_of([&] { c.sign("0123456789abcdef", pb::HASH_SHA256, digest_of("x")); }),
              pb::STATUS_KEY_NOT_FOUND);
    EXPECT_EQ(status_of([&] { c.sign("no-such-name", pb::HASH_SHA256, digest_of("x")); }), pb::STATUS_KEY_NOT_FOUND);
    expect_serves();
}

TEST_F(ProtocolTest, WrongAlgorithmForKey) {
    start();
    auto c = client();
    const auto ec = c.generate_key("ec", pb::KEY_TYPE_ECDSA_P256);
    const auto ed = c.generate_key("ed", pb::KEY_TYPE_ED25519);
    EXPECT_EQ(status_of([&] { c.sign(ec.id(), pb::HASH_NONE, digest_of("x")); }), pb::STATUS_UNSUPPORTED_ALGORITHM);
    EXPECT_EQ(status_of([&] { c.sign(ed.id(), pb::HASH_SHA256, digest_of("x")); }),
              pb::STATUS_UNSUPPORTED_ALGORITHM);
    EXPECT_EQ(status_of([&] { c.sign(ec.id(), pb::HASH_UNSPECIFIED, digest_of("x")); }),
              pb::STATUS_INVALID_ARGUMENT);
    expect_serves();
}

TEST_F(ProtocolTest, DigestOfWrongLength) {
    start();
    auto c = client();
    const auto ec = c.generate_key("ec", pb::KEY_TYPE_ECDSA_P256);
    auto d = digest_of("x");
    d.pop_back();
    EXPECT_EQ(status_of([&] { c.sign(ec.id(), pb::HASH_SHA256, d); }), pb::STATUS_BAD_DIGEST_LENGTH);
    d.resize(64, 0);
    EXPECT_EQ(status_of([&] { c.sign(ec.id(), pb::HASH_SHA256, d); }), pb::STATUS_BAD_DIGEST_LENGTH);
    expect_serves();
}

TEST_F(ProtocolTest, EmptyAndOversizedBatch) {
    start();
    const auto ec = client().generate_key("ec", pb::KEY_TYPE_ECDSA_P256);
    RawConnection raw(socket());
    ASSERT_TRUE(raw.hello());
    pb::Request req;
    req.set_id(40);
    req.mutable_sign_batch()->set_key(ec.id());
    req.mutable_sign_batch()->set_hash(pb::HASH_SHA256);
    ASSERT_TRUE(raw.send_request(req));
    auto resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_BATCH_EMPTY);

    const auto d = digest_of("item");
    for (std::uint32_t i = 0; i < proto::kBatchLimitEcdsaP256 + 1; ++i) req.mutable_sign_batch()->add_items(d.data(), d.size());
    req.set_id(41);
    ASSERT_TRUE(raw.send_request(req));
    resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status(), pb::STATUS_BATCH_TOO_LARGE);
    EXPECT_EQ(resp->id(), 41u);

    // At the limit it is signed.
    req.mutable_sign_batch()->mutable_items()->RemoveLast();
    req.set_id(42);
    ASSERT_TRUE(raw.send_request(req));
    resp = raw.read_response();
    ASSERT_TRUE(resp);
    ASSERT_EQ(resp->status(), pb::STATUS_OK) << resp->message();
    EXPECT_EQ(resp->sign_batch().signatures_size(), static_cast<int>(proto::kBatchLimitEcdsaP256));
    expect_valid_signature(ec, pb::HASH_SHA256, d, resp->sign_batch().signatures(0));
    expect_serves();
}

} // namespace
} // namespace trustkey::test

namespace trustkey::test {
namespace {

TEST_F(ProtocolTest, ConnectionsOverTheCapAreClosed) {
    start({"--config", write_config("max_connections = 2\n")});
    // The readiness probe's connection counts until the daemon sees it closed: poll until the
    // status reports this client alone (bounded).
    {
        auto c = client();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (c.status().connections() != 1 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ASSERT_EQ(c.status().connections(), 1u);
    }
    auto first = std::make_unique<RawConnection>(socket());
    std::unique_ptr<RawConnection> second;
    ASSERT_TRUE(first->hello());
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until) {
        second = std::make_unique<RawConnection>(socket());
        if (second->hello()) break;
        second.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(second);
    {
        RawConnection third(socket());
        EXPECT_TRUE(third.closed_by_peer());
    }
    first.reset();  // frees a slot once the daemon sees the close; poll for it (bounded)
    bool served = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!served && std::chrono::steady_clock::now() < deadline) {
        RawConnection next(socket());
        served = next.hello();
        if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(served);
    EXPECT_NE(m_daemon->log().find("max_connections 2 reached"), std::string::npos) << m_daemon->log();
}

} // namespace
} // namespace trustkey::test
