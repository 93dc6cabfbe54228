// Signing through the real trustkeyd with the embedded token, verified with OpenSSL.
#include <atomic>
#include <thread>

#include "lib/keys/public_key.h"
#include "daemon/server/proto_convert.h"
#include "tests/daemon/server/trustkeyd_fixture.h"

namespace trustkey::test {
namespace {

using SigningTest = TrustkeydTest;

std::vector<std::uint8_t> message_bytes(const std::string& s) { return {s.begin(), s.end()}; }

TEST_F(SigningTest, SignWithEachKeyTypeVerifies) {
    start();
    auto c = client();
    struct Case {
        const char* name;
        pb::KeyType type;
        pb::HashAlgorithm hash;
        std::vector<std::uint8_t> data;
        const char* method;
    };
    const std::vector<Case> cases{
        {"k-ecdsa", pb::KEY_TYPE_ECDSA_P256, pb::HASH_SHA256, digest_of("ecdsa message"), "ecdsa"},
        {"k-rsa", pb::KEY_TYPE_RSA_2048, pb::HASH_SHA256, digest_of("rsa message"), "rsapss"},
        {"k-ed25519", pb::KEY_TYPE_ED25519, pb::HASH_NONE, message_bytes("{\"signed\":\"whole message\"}"), "eddsa"},
    };
    for (const auto& tc : cases) {
        SCOPED_TRACE(tc.name);
        const auto key = c.generate_key(tc.name, tc.type);
        EXPECT_EQ(key.type(), tc.type);
        EXPECT_EQ(key.id().size(), 64u);
        const auto reply = c.sign(key.id(), tc.hash, tc.data);
        EXPECT_EQ(reply.key_id(), key.id());
        EXPECT_EQ(reply.method(), tc.method);
        expect_valid_signature(key, tc.hash, tc.data, reply.signature());
        // A changed message must not verify.
        auto other = tc.data;
        other[0] ^= 1;
        const auto type = *server::from_proto(key.type());
        const Bytes spki(key.public_key().begin(), key.public_key().end());
        const Bytes sig(reply.signature().begin(), reply.signature().end());
        EXPECT_FALSE(backend::verify_signature(
            type, spki, tc.hash == pb::HASH_NONE ? backend::HashAlg::none : backend::HashAlg::sha256, other, sig));
    }
}

TEST_F(SigningTest, SignBatchKeepsOrder) {
    start();
    auto c = client();
    const auto key = c.generate_key("batch", pb::KEY_TYPE_ECDSA_P256);
    std::vector<std::vector<std::uint8_t>> items;
    for (int i = 0; i < 20; ++i) items.push_back(digest_of("item " + std::to_string(i)));
    const auto reply = c.sign_batch("batch", pb::HASH_SHA256, items);
    ASSERT_EQ(reply.signatures_size(), 20);
    for (int i = 0; i < 20; ++i) expect_valid_signature(key, pb::HASH_SHA256, items[i], reply.signatures(i));
}

TEST_F(SigningTest, PipelinedRequestsAnsweredInOrderWithTheirIds) {
    start();
    const auto key = client().generate_key("pipe", pb::KEY_TYPE_ECDSA_P256);
    RawConnection raw(socket());
    ASSERT_TRUE(raw.hello());
    std::vector<std::uint8_t> all;
    constexpr int kCount = 50;
    for (int i = 0; i < kCount; ++i) {
        pb::Request req;
        req.set_id(1000 + static_cast<std::uint64_t>(i) * 7);
        req.mutable_sign()->set_key(key.id());
        req.mutable_sign()->set_hash(pb::HASH_SHA256);
        const auto d = digest_of("pipelined " + std::to_string(i));
        req.mutable_sign()->set_data(d.data(), d.size());
        const auto f = frame_of(req);
        all.insert(all.end(), f.begin(), f.end());
    }
    ASSERT_TRUE(raw.send_bytes(all));  // every request in flight before any reply is read
    for (int i = 0; i < kCount; ++i) {
        const auto resp = raw.read_response();
        ASSERT_TRUE(resp) << "reply " << i << " missing";
        EXPECT_EQ(resp->id(), 1000 + static_cast<std::uint64_t>(i) * 7);
        ASSERT_EQ(resp->status(), pb::STATUS_OK) << resp->message();
        expect_valid_signature(key, pb::HASH_SHA256, digest_of("pipelined " + std::to_string(i)),
                               resp->sign().signature());
    }
}

TEST_F(SigningTest, ThirtyTwoClientsSignInParallel) {
    start();
    const auto key = client().generate_key("shared", pb::KEY_TYPE_ECDSA_P256);
    constexpr int kClients = 32;
    constexpr int kPerClient = 10;
    std::vector<std::vector<std::string>> sigs(kClients);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kClients; ++t) {
        threads.emplace_back([&, t] {
            try {
                auto c = client();
                for (int i = 0; i < kPerClient; ++i)
                    sigs[t].push_back(c.sign(key.id(), pb::HASH_SHA256,
                                             digest_of(std::to_string(t) + "/" + std::to_string(i)))
                                          .signature());
            } catch (const std::exception&) {
                ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    for (int t = 0; t < kClients; ++t) {
        ASSERT_EQ(sigs[t].size(), static_cast<std::size_t>(kPerClient));
        for (int i = 0; i < kPerClient; ++i)
            expect_valid_signature(key, pb::HASH_SHA256, digest_of(std::to_string(t) + "/" + std::to_string(i)),
                                   sigs[t][i]);
    }
}

} // namespace
} // namespace trustkey::test
