// The scheduler over a real SoftHSM2 token: where a Sign is made (on the caller's thread or a
// worker's) and that either way its signature verifies with OpenSSL against the key.
#include "daemon/server/scheduler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "lib/backend/key_ring.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/keys/public_key.h"
#include "daemon/server/dispatcher.h"
#include "tests/daemon/server/tuf_signature_check.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::server {
namespace {

using namespace std::chrono_literals;
using Outcome = Scheduler::Submitted::Outcome;

class SchedulerTest : public ::testing::Test {
protected:
    SchedulerTest() {
        backend::pkcs11::Pkcs11Config pc;
        pc.name = "hsm";
        pc.module = test::SoftHsmToken::module();
        pc.token_uri = m_token.uri();
        pc.pin = {backend::pkcs11::PinSource::Kind::env, "SCHEDULER_TEST_PIN"};
        ::setenv("SCHEDULER_TEST_PIN", m_token.user_pin().c_str(), 1);
        m_ring.add(backend::pkcs11::make_pkcs11_backend(pc));
        m_dispatcher = std::make_unique<Dispatcher>(m_ring, Dispatcher::Options{});
        m_session.negotiated = true;
        m_session.version = 1;
    }

    void start(std::chrono::microseconds inline_limit,
               std::chrono::microseconds alone_after = std::chrono::microseconds(0)) {
        Scheduler::Options o;
        o.inline_sign_limit = inline_limit;
        o.inline_alone_after = alone_after;
        m_scheduler = std::make_unique<Scheduler>(m_ring, *m_dispatcher, o, [this] {
            std::lock_guard lock(m_mutex);
            ++m_wakes;
            m_woken.notify_all();
        });
    }

    // A new ECDSA key on the token, made through the dispatcher; its id and public key.
    pb::KeyInfo generate(const std::string& name) {
        pb::Request gen;
        gen.set_id(1);
        gen.mutable_generate_key()->set_name(name);
        Session s = m_session;
        const pb::Response r = m_dispatcher->handle(gen, m_caller, s);
        EXPECT_EQ(r.status(), pb::STATUS_OK) << r.message();
        // The token's keys read once, as a listing or the first reference resolved on a worker
        // does: from then on the loop routes by what the backend holds in memory.
        m_ring.list();
        return r.generate_key().key();
    }

    static pb::Request sign_request(const std::string& key, std::uint64_t id, const Bytes& digest) {
        pb::Request r;
        r.set_id(id);
        r.mutable_sign()->set_key(key);
        r.mutable_sign()->set_hash(pb::HASH_SHA256);
        r.mutable_sign()->set_data(digest.data(), digest.size());
        return r;
    }

    // The reply of a queued request, once its worker posted it; replies for other connections
    // taken meanwhile are kept for their own wait.
    pb::Response wait_for_completion(std::uint64_t connection) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        for (;;) {
            int seen = 0;
            {
                // Read before taking: a completion posted after the take moves it on.
                std::lock_guard lock(m_mutex);
                seen = m_wakes;
            }
            for (auto& c : m_scheduler->take_completions()) m_unclaimed.push_back(std::move(c));
            for (auto it = m_unclaimed.begin(); it != m_unclaimed.end(); ++it)
                if (it->connection == connection) {
                    pb::Response r = std::move(it->response);
                    m_unclaimed.erase(it);
                    return r;
                }
            std::unique_lock lock(m_mutex);
            if (!m_woken.wait_until(lock, deadline, [&] { return m_wakes != seen; })) {
                ADD_FAILURE() << "no completion for connection " << connection;
                return {};
            }
        }
    }

    static bool verifies(const pb::KeyInfo& key, const Bytes& digest, const pb::Response& r) {
        const auto& spki = key.public_key();
        const test::TufSignatureCheck check(key.type(), std::span(reinterpret_cast<const std::uint8_t*>(spki.data()),
                                                                  spki.size()));
        const auto& sig = r.sign().signature();
        return check.verifies(digest, std::span(reinterpret_cast<const std::uint8_t*>(sig.data()), sig.size()));
    }

    test::SoftHsmToken m_token{"schedule"};
    backend::KeyRing m_ring;
    std::unique_ptr<Dispatcher> m_dispatcher;
    Caller m_caller{::getpid(), ::getuid(), ::getgid()};
    Session m_session;
    std::mutex m_mutex;
    std::condition_variable m_woken;
    int m_wakes = 0;
    std::vector<Completion> m_unclaimed;
    std::unique_ptr<Scheduler> m_scheduler;  // last: its workers go first
};

TEST_F(SchedulerTest, ASignIsMadeOnTheCallersThreadOnceItsBackendIsSeenToBeQuick) {
    start(10s);  // any time counts as quick
    const pb::KeyInfo key = generate("quick");
    const Bytes digest = sha256(as_bytes("metadata"));

    // Nothing is known of this backend's signatures yet: the first goes to a worker.
    auto first = m_scheduler->submit(7, m_caller, m_session, sign_request(key.id(), 2, digest));
    ASSERT_EQ(first.outcome, Outcome::queued);
    const pb::Response r1 = wait_for_completion(7);
    ASSERT_EQ(r1.status(), pb::STATUS_OK) << r1.message();
    EXPECT_TRUE(verifies(key, digest, r1));

    // From then on it is answered at once, here, by name as by id; the session counts it.
    const std::uint64_t before = m_session.requests;
    for (const std::string& ref : {key.id(), std::string("quick")}) {
        auto next = m_scheduler->submit(7, m_caller, m_session, sign_request(ref, 3, digest));
        ASSERT_EQ(next.outcome, Outcome::answered);
        ASSERT_EQ(next.response.status(), pb::STATUS_OK) << next.response.message();
        EXPECT_EQ(next.response.id(), 3u);
        EXPECT_TRUE(verifies(key, digest, next.response));
    }
    EXPECT_EQ(m_session.requests, before + 2);
    EXPECT_TRUE(m_scheduler->take_completions().empty());

    // What is not a Sign of a key the caches know still goes to a worker.
    auto unknown = m_scheduler->submit(8, m_caller, m_session, sign_request("nobody", 4, digest));
    ASSERT_EQ(unknown.outcome, Outcome::queued);
    EXPECT_EQ(wait_for_completion(8).status(), pb::STATUS_KEY_NOT_FOUND);
    pb::Request list;
    list.set_id(5);
    list.mutable_list_keys();
    ASSERT_EQ(m_scheduler->submit(9, m_caller, m_session, list).outcome, Outcome::queued);
    EXPECT_EQ(wait_for_completion(9).list_keys().keys_size(), 1);
}

TEST_F(SchedulerTest, ASignSlowerThanTheLimitGoesToAWorker) {
    start(1us);  // no token signs this quickly
    const pb::KeyInfo key = generate("slow");
    const Bytes digest = sha256(as_bytes("metadata"));
    for (std::uint64_t i = 0; i < 3; ++i) {
        auto s = m_scheduler->submit(7, m_caller, m_session, sign_request(key.id(), 10 + i, digest));
        ASSERT_EQ(s.outcome, Outcome::queued);
        const pb::Response r = wait_for_completion(7);
        ASSERT_EQ(r.status(), pb::STATUS_OK) << r.message();
        EXPECT_TRUE(verifies(key, digest, r));
    }
}

TEST_F(SchedulerTest, ALimitOfZeroNeverSignsOnTheCallersThread) {
    start(0us);
    const pb::KeyInfo key = generate("never");
    const Bytes digest = sha256(as_bytes("metadata"));
    for (std::uint64_t i = 0; i < 3; ++i) {
        auto s = m_scheduler->submit(7, m_caller, m_session, sign_request(key.id(), 10 + i, digest));
        ASSERT_EQ(s.outcome, Outcome::queued);
        EXPECT_TRUE(verifies(key, digest, wait_for_completion(7)));
    }
}

TEST_F(SchedulerTest, AFailedInlineSignIsAnsweredWithItsStatus) {
    start(10s);
    const pb::KeyInfo key = generate("gone");
    const Bytes digest = sha256(as_bytes("metadata"));
    ASSERT_EQ(m_scheduler->submit(7, m_caller, m_session, sign_request(key.id(), 2, digest)).outcome,
              Outcome::queued);
    ASSERT_EQ(wait_for_completion(7).status(), pb::STATUS_OK);
    // A digest of the wrong length is refused by the backend, on this thread, as a status.
    const Bytes short_digest(5, 0x42);
    auto bad = m_scheduler->submit(7, m_caller, m_session, sign_request(key.id(), 3, short_digest));
    ASSERT_EQ(bad.outcome, Outcome::answered);
    EXPECT_NE(bad.response.status(), pb::STATUS_OK);
    EXPECT_FALSE(bad.response.message().empty());
}

TEST_F(SchedulerTest, WhileSeveralClientsAskTheirSignsGoToTheWorkers) {
    start(10s, 200ms);
    const pb::KeyInfo key = generate("shared");
    const Bytes digest = sha256(as_bytes("metadata"));
    ASSERT_EQ(m_scheduler->submit(7, m_caller, m_session, sign_request(key.id(), 1, digest)).outcome,
              Outcome::queued);
    ASSERT_EQ(wait_for_completion(7).status(), pb::STATUS_OK);

    // Client 7 alone for longer than the bound: on this thread.
    std::this_thread::sleep_for(300ms);
    auto alone = m_scheduler->submit(7, m_caller, m_session, sign_request(key.id(), 2, digest));
    ASSERT_EQ(alone.outcome, Outcome::answered);
    EXPECT_TRUE(verifies(key, digest, alone.response));

    // Client 8 asks too: its Sign and client 7's next go to the workers.
    ASSERT_EQ(m_scheduler->submit(8, m_caller, m_session, sign_request(key.id(), 3, digest)).outcome,
              Outcome::queued);
    ASSERT_EQ(m_scheduler->submit(7, m_caller, m_session, sign_request(key.id(), 4, digest)).outcome,
              Outcome::queued);
    EXPECT_TRUE(verifies(key, digest, wait_for_completion(8)));
    EXPECT_TRUE(verifies(key, digest, wait_for_completion(7)));

    // Client 7 alone again for long enough: on this thread once more.
    std::this_thread::sleep_for(300ms);
    auto again = m_scheduler->submit(7, m_caller, m_session, sign_request(key.id(), 5, digest));
    ASSERT_EQ(again.outcome, Outcome::answered);
    EXPECT_TRUE(verifies(key, digest, again.response));
}

} // namespace
} // namespace trustkey::server
