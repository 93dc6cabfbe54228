// trustkeyd's serving core under load, with the real daemon, SoftHSM2 and swtpm: the
// connection cap answered STATUS_BUSY, deadlines for stalled and silent clients, no spin
// and no log flood when descriptors run out, a TPM batch that does not stall other
// clients, work dropped for clients that went away, and a thread count that does not
// grow with clients.
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/swtpm.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using ServingTest = TrustkeydTest;

pb::Request sign_request(std::uint64_t id, const std::string& key, const std::vector<std::uint8_t>& digest) {
    pb::Request req;
    req.set_id(id);
    auto* s = req.mutable_sign();
    s->set_key(key);
    s->set_hash(pb::HASH_SHA256);
    s->set_data(digest.data(), digest.size());
    return req;
}

// Sends one Sign on a raw connection that said Hello; true when it is signed.
bool raw_signs(RawConnection& raw, std::uint64_t id, const std::string& key) {
    if (!raw.send_request(sign_request(id, key, digest_of("raw " + std::to_string(id))))) return false;
    const auto resp = raw.read_response();
    if (resp && resp->status() != pb::STATUS_OK) ADD_FAILURE() << "sign " << id << ": " << resp->message();
    return resp && resp->id() == id && resp->status() == pb::STATUS_OK && resp->has_sign();
}

// Waits (bounded) until GetStatus counts `n` connections, the asking one included.
void wait_for_connections(proto::Client& c, std::uint32_t n) {
    const auto deadline = Clock::now() + 20s;
    while (c.status().connections() != n && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
    ASSERT_EQ(c.status().connections(), n);
}

// utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15).
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) return -1;
    std::istringstream fields(stat.substr(close_paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // After "pid (comm) " the fields start at number 3 (state).
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::size_t open_fds(pid_t pid) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
    return n;
}

std::size_t line_count(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST_F(ServingTest, OverTheCapEveryExtraClientIsAnsweredBusy) {
    start({"--config", write_config("max_connections = 4\n")});
    {
        auto c = client();
        c.generate_key("cap-key", pb::KEY_TYPE_ECDSA_P256);
        wait_for_connections(c, 1);
    }
    // The four connections of the cap (once the daemon has seen the probe above go).
    std::vector<std::unique_ptr<RawConnection>> within;
    const auto until = Clock::now() + 20s;
    while (within.size() < 4 && Clock::now() < until) {
        auto raw = std::make_unique<RawConnection>(socket());
        if (raw->hello())
            within.push_back(std::move(raw));
        else
            std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(within.size(), 4u);

    // Ten more, held open: each is told STATUS_BUSY (id 0) and then closed, none in silence.
    std::vector<std::unique_ptr<RawConnection>> extra;
    for (int i = 0; i < 10; ++i) extra.push_back(std::make_unique<RawConnection>(socket()));
    for (auto& raw : extra) {
        ASSERT_TRUE(raw->connected());
        const auto resp = raw->read_response(10s);
        ASSERT_TRUE(resp) << "closed without a reply\n" << m_daemon->log();
        EXPECT_EQ(resp->status(), pb::STATUS_BUSY);
        EXPECT_EQ(resp->id(), 0u);
        EXPECT_NE(resp->message().find("connection cap"), std::string::npos) << resp->message();
        EXPECT_TRUE(raw->closed_by_peer(10s));
    }
    // The clients within the cap are all served.
    std::uint64_t id = 10;
    for (auto& raw : within)
        for (int i = 0; i < 3; ++i) EXPECT_TRUE(raw_signs(*raw, ++id, "cap-key"));

    // The client library tries a busy daemon again and gets in once a slot frees.
    auto freed = std::async(std::launch::async, [&] {
        std::this_thread::sleep_for(100ms);
        within.back().reset();
    });
    std::optional<proto::Client> late;
    try {
        late.emplace(client());
    } catch (const proto::ClientError& e) {
        ADD_FAILURE() << "connect failed: " << e.what() << "\n" << m_daemon->log();
    }
    freed.get();
    ASSERT_TRUE(late);
    const auto digest = digest_of("after the cap");
    EXPECT_EQ(late->sign("cap-key", pb::HASH_SHA256, digest).signature().size(), 64u);
    EXPECT_NE(m_daemon->log().find("max_connections 4 reached"), std::string::npos);
}

TEST_F(ServingTest, StalledAndSilentClientsAreDroppedAtTheirDeadlines) {
    start({"--config", write_config("frame_timeout_seconds = 1\nidle_timeout_seconds = 2\n")});
    auto signer = client();
    signer.generate_key("busy-signer", pb::KEY_TYPE_ECDSA_P256);

    const auto t0 = Clock::now();
    RawConnection half(socket());
    ASSERT_TRUE(half.hello());
    auto frame = frame_of(sign_request(2, "busy-signer", digest_of("half")));
    frame.resize(frame.size() / 2);
    ASSERT_TRUE(half.send_bytes(frame));  // half a frame, then nothing
    RawConnection silent(socket());        // connects and says nothing
    ASSERT_TRUE(silent.connected());

    // Meanwhile another client keeps signing (often enough that its own connection is never idle).
    std::atomic<bool> done{false};
    std::atomic<int> signed_count{0};
    std::atomic<int> failures{0};
    std::thread signing([&] {
        int i = 0;
        while (!done) {
            try {
                signer.sign("busy-signer", pb::HASH_SHA256, digest_of("meanwhile " + std::to_string(++i)));
                ++signed_count;
            } catch (const proto::ClientError&) {
                ++failures;
            }
            std::this_thread::sleep_for(20ms);
        }
    });
    const bool half_closed = half.closed_by_peer(10s);
    const auto half_after = Clock::now() - t0;
    const bool silent_closed = silent.closed_by_peer(10s);
    const auto silent_after = Clock::now() - t0;
    done = true;
    signing.join();

    EXPECT_TRUE(half_closed);
    EXPECT_GE(half_after, 900ms);
    EXPECT_LE(half_after, 4s);
    EXPECT_TRUE(silent_closed) << m_daemon->log();
    EXPECT_GE(silent_after, 1900ms);
    EXPECT_LE(silent_after, 5s);
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GT(signed_count.load(), 20);
    const std::string log = m_daemon->log();
    EXPECT_NE(log.find("event=frame_timeout"), std::string::npos) << log;
    EXPECT_NE(log.find("event=idle_timeout"), std::string::npos) << log;
    expect_serves();
}

TEST_F(ServingTest, AClientThatStopsReadingIsClosedAndBlocksNoOne) {
    start({"--config", write_config("frame_timeout_seconds = 1\n")});
    auto signer = client();
    signer.generate_key("reader-key", pb::KEY_TYPE_ECDSA_P256);

    // Eight full batches (about 63 KiB of reply each), never read: the replies fill the
    // socket and the daemon's bounded output buffer.
    RawConnection raw(socket());
    ASSERT_TRUE(raw.hello());
    const auto digest = digest_of("unread");
    std::vector<std::uint8_t> bytes;
    for (std::uint64_t id = 2; id < 10; ++id) {
        pb::Request batch;
        batch.set_id(id);
        batch.mutable_sign_batch()->set_key("reader-key");
        batch.mutable_sign_batch()->set_hash(pb::HASH_SHA256);
        for (std::uint32_t i = 0; i < proto::kBatchLimitEcdsaP256; ++i)
            batch.mutable_sign_batch()->add_items(digest.data(), digest.size());
        const auto frame = frame_of(batch);
        bytes.insert(bytes.end(), frame.begin(), frame.end());
    }
    auto sent = std::async(std::launch::async, [&] { return raw.send_bytes(bytes); });

    // Meanwhile another client signs, and the reader is closed once its replies stop moving.
    // The bound is generous: under the sanitizers the 7,680 signatures that fill the reader's
    // socket take most of a minute.
    const auto deadline = Clock::now() + 100s;
    int signed_count = 0;
    while (m_daemon->log().find("event=reply_timeout") == std::string::npos && Clock::now() < deadline) {
        EXPECT_NO_THROW(signer.sign("reader-key", pb::HASH_SHA256, digest_of(std::to_string(signed_count))));
        ++signed_count;
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_NE(m_daemon->log().find("event=reply_timeout"), std::string::npos) << m_daemon->log();
    EXPECT_GT(signed_count, 0);
    EXPECT_TRUE(raw.closed_by_peer(10s));
    sent.get();
    expect_serves();
}

// "Max open files" of a process: soft and hard, from /proc/<pid>/limits.
std::pair<std::string, std::string> open_files_limit(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Max open files", 0) != 0) continue;
        std::istringstream fields(line.substr(std::string("Max open files").size()));
        std::string soft, hard;
        fields >> soft >> hard;
        return {soft, hard};
    }
    return {};
}

TEST_F(ServingTest, RaisesItsOpenFilesLimitToTheHardLimit) {
    // Started with a low soft limit under a higher hard one.
    const fs::path wrapper = m_home.root() / "low-nofile.sh";
    {
        std::ofstream out(wrapper);
        out << "#!/bin/sh\nexec prlimit --nofile=64:2048 -- " << TRUSTKEYD_PATH << " \"$@\"\n";
    }
    fs::permissions(wrapper, fs::perms::owner_all);
    auto opts = options();
    m_daemon = std::make_unique<TrustkeydInstance>(wrapper, m_home, opts);
    ASSERT_TRUE(m_daemon->wait_ready()) << m_daemon->log();
    EXPECT_EQ(open_files_limit(m_daemon->pid()), (std::pair<std::string, std::string>{"2048", "2048"}));
    EXPECT_NE(m_daemon->log().find("event=open_files_limit soft_before=64 soft=2048 hard=2048"), std::string::npos)
        << m_daemon->log();
    expect_serves();
}

TEST_F(ServingTest, OutOfDescriptorsTheDaemonNeitherSpinsNorFloodsItsLog) {
    start();
    const pid_t pid = m_daemon->pid();
    std::vector<std::unique_ptr<proto::Client>> clients;
    clients.push_back(std::make_unique<proto::Client>(client()));
    clients.front()->generate_key("fd-key", pb::KEY_TYPE_ECDSA_P256);

    // A limit a few descriptors above what the daemon holds now, soft and hard, so it
    // cannot raise it again.
    const std::size_t base = open_fds(pid);
    const std::size_t limit = base + 4;
    const auto r = run_command("prlimit --pid " + std::to_string(pid) + " --nofile=" + std::to_string(limit) + ":" +
                               std::to_string(limit));
    ASSERT_EQ(r.exit_code, 0) << r.output;

    // Fill the table: clients connect until one is left pending (its Hello unanswered).
    std::vector<std::unique_ptr<RawConnection>> raws;
    std::unique_ptr<RawConnection> pending;
    for (int i = 0; i < 16 && !pending; ++i) {
        auto raw = std::make_unique<RawConnection>(socket());
        ASSERT_TRUE(raw->connected());
        pb::Request hello;
        hello.set_id(1);
        hello.mutable_hello()->set_min_version(proto::kMinProtocolVersion);
        hello.mutable_hello()->set_max_version(proto::kProtocolVersion);
        ASSERT_TRUE(raw->send_request(hello));
        if (raw->read_response(1s))
            raws.push_back(std::move(raw));
        else
            pending = std::move(raw);
    }
    ASSERT_TRUE(pending) << "every connection was accepted under a limit of " << limit;

    // With a connection waiting that cannot be accepted, ~3 s pass: little CPU, few lines.
    const std::size_t lines_before = line_count(m_daemon->log());
    const double cpu_before = cpu_seconds(pid);
    std::this_thread::sleep_for(3s);
    const double cpu = cpu_seconds(pid) - cpu_before;
    const std::size_t lines = line_count(m_daemon->log()) - lines_before;
    EXPECT_LT(cpu, 0.3) << "the daemon spun";
    EXPECT_LT(lines, 50u) << m_daemon->log().substr(0, 4000);
    EXPECT_NE(m_daemon->log().find("event=accept_failed"), std::string::npos);

    // The connections it has are still answered. (Not with signatures: SoftHSM2 opens files of
    // its own for each operation, and the daemon's table is full.)
    EXPECT_NO_THROW(clients.front()->status());
    for (auto& raw : raws) {
        pb::Request status;
        status.set_id(7);
        status.mutable_get_status();
        ASSERT_TRUE(raw->send_request(status));
        const auto resp = raw->read_response(5s);
        ASSERT_TRUE(resp);
        EXPECT_EQ(resp->status(), pb::STATUS_OK);
    }

    // Once descriptors free, the waiting client is accepted and answered.
    raws.clear();
    const auto resp = pending->read_response(5s);
    ASSERT_TRUE(resp) << m_daemon->log().substr(0, 4000);
    EXPECT_EQ(resp->status(), pb::STATUS_OK);
    EXPECT_TRUE(raw_signs(*pending, 8, "fd-key"));
}

TEST_F(ServingTest, DroppedRequestsAreCountedWhenTheClientGoes) {
    start();
    auto c = client();
    c.generate_key("drop-key", pb::KEY_TYPE_ECDSA_P256);
    EXPECT_EQ(c.status().dropped_requests(), 0u);
    {
        RawConnection raw(socket());
        ASSERT_TRUE(raw.hello());
        // Big batches pipelined, then more signs; once the first batch is answered the
        // client is gone, with the second batch running and the rest waiting.
        const auto digest = digest_of("dropped");
        std::vector<std::uint8_t> bytes;
        for (std::uint64_t id = 2; id < 6; ++id) {
            pb::Request batch;
            batch.set_id(id);
            batch.mutable_sign_batch()->set_key("drop-key");
            batch.mutable_sign_batch()->set_hash(pb::HASH_SHA256);
            for (std::uint32_t i = 0; i < proto::kBatchLimitEcdsaP256; ++i)
                batch.mutable_sign_batch()->add_items(digest.data(), digest.size());
            const auto frame = frame_of(batch);
            bytes.insert(bytes.end(), frame.begin(), frame.end());
        }
        for (std::uint64_t id = 6; id < 40; ++id) {
            const auto frame = frame_of(sign_request(id, "drop-key", digest));
            bytes.insert(bytes.end(), frame.begin(), frame.end());
        }
        auto sent = std::async(std::launch::async, [&] { return raw.send_bytes(bytes); });
        const auto first = raw.read_response(30s);
        ASSERT_TRUE(first);
        EXPECT_EQ(first->status(), pb::STATUS_OK);
        EXPECT_EQ(first->sign_batch().signatures_size(), static_cast<int>(proto::kBatchLimitEcdsaP256));
        ::shutdown(raw.fd(), SHUT_RDWR);  // unblocks the sender if it still writes
        sent.get();
    }
    std::uint64_t dropped = 0;
    const auto deadline = Clock::now() + 20s;
    while ((dropped = c.status().dropped_requests()) == 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    EXPECT_GT(dropped, 0u) << m_daemon->log();
    EXPECT_NE(m_daemon->log().find("event=requests_dropped"), std::string::npos);
    expect_serves();
}

TEST_F(ServingTest, ThreadCountStaysTheSameWithOneAndAHundredClients) {
    start();
    auto c = client();
    wait_for_connections(c, 1);
    const std::uint32_t one = c.status().threads();
    EXPECT_GE(one, 2u);  // the loop and at least one worker
    std::vector<proto::Client> more;
    for (int i = 0; i < 100; ++i) more.push_back(client());
    wait_for_connections(c, 101);
    EXPECT_EQ(c.status().threads(), one);
    for (auto& m : more) EXPECT_EQ(m.status().threads(), one);
}

TEST_F(ServingTest, GeneralWorkersAndBatchChunkAreConfigured) {
    start();
    const std::uint32_t by_default = client().status().threads();
    stop_and_check();
    start({"--config", write_config("general_workers = 5\nbatch_chunk = 3\n")});
    auto c = client();
    EXPECT_EQ(c.status().threads(), by_default + 3);  // 5 general workers instead of 2
    // A batch longer than a chunk still comes back whole and in order.
    const auto key = c.generate_key("chunked", pb::KEY_TYPE_ECDSA_P256);
    std::vector<std::vector<std::uint8_t>> items;
    for (int i = 0; i < 10; ++i) items.push_back(digest_of("item " + std::to_string(i)));
    const auto reply = c.sign_batch(key.id(), pb::HASH_SHA256, items);
    ASSERT_EQ(reply.signatures_size(), 10);
    for (int i = 0; i < 10; ++i) expect_valid_signature(key, pb::HASH_SHA256, items[static_cast<std::size_t>(i)], reply.signatures(i));
}

class ServingTpmTest : public TrustkeydTest {
protected:
    static Swtpm& swtpm() {
        static Swtpm instance;
        return instance;
    }
    static void SetUpTestSuite() { swtpm(); }
};

TEST_F(ServingTpmTest, BatchOnTheTpmDoesNotStallAnotherClientsSign) {
    start({"--tpm", swtpm().tcti()});
    auto c = client();
    c.generate_key("tpm-fair", pb::KEY_TYPE_ECDSA_P256, "tpm");
    const auto digest = digest_of("fair");

    // One signature's time on this TPM: the median of a few.
    std::vector<Clock::duration> times;
    for (int i = 0; i < 7; ++i) {
        const auto t = Clock::now();
        c.sign("tpm-fair", pb::HASH_SHA256, digest);
        times.push_back(Clock::now() - t);
    }
    std::sort(times.begin(), times.end());
    const auto one_sig = times[times.size() / 2];

    constexpr std::size_t kItems = proto::kBatchLimitEcdsaP256;
    std::vector<std::vector<std::uint8_t>> items(kItems, digest);
    std::atomic<bool> batch_done{false};
    Clock::time_point batch_end;
    const auto batch_start = Clock::now();
    auto batch = std::async(std::launch::async, [&] {
        auto bc = client();
        const auto reply = bc.sign_batch("tpm-fair", pb::HASH_SHA256, items);
        batch_end = Clock::now();
        batch_done = true;
        return reply.signatures_size();
    });
    // Let the batch get going, then time one Sign of another client.
    std::this_thread::sleep_for(std::max<Clock::duration>(10 * one_sig, 50ms));
    auto other = client();
    const bool overlapped = !batch_done.load();  // the batch still runs as the Sign is sent
    const auto t = Clock::now();
    other.sign("tpm-fair", pb::HASH_SHA256, digest);
    const auto waited = Clock::now() - t;
    EXPECT_EQ(batch.get(), static_cast<int>(kItems));
    const auto whole_batch = batch_end - batch_start;

    // At most a few chunks (8 signatures each) ahead of it, plus a margin for the machine;
    // when the batch holds the TPM throughout, the wait is the rest of the batch.
    const auto allowed = 5 * 8 * one_sig + 100ms;
    const auto ms = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
    ASSERT_TRUE(overlapped) << "the batch ended before the other client's Sign was sent; one signature " << ms(one_sig)
                            << " ms, batch " << ms(whole_batch) << " ms";
    EXPECT_LE(waited, allowed) << "one signature " << ms(one_sig) << " ms, the other client waited " << ms(waited)
                               << " ms, the whole batch took " << ms(whole_batch) << " ms";
}

TEST_F(ServingTpmTest, AFullQueueIsAnsweredBusyAndTheClientLibraryRetries) {
    start({"--tpm", swtpm().tcti(), "--config", write_config("max_queued_requests = 1\n")});
    auto c = client();
    c.generate_key("tpm-queue", pb::KEY_TYPE_ECDSA_P256, "tpm");
    const auto digest = digest_of("queue");

    // A full batch keeps the TPM's one worker going, chunk after chunk; meanwhile five
    // clients each send one Sign at once: one may wait in the queue, the others are refused.
    std::vector<std::vector<std::uint8_t>> items(proto::kBatchLimitEcdsaP256, digest);
    auto batch = std::async(std::launch::async, [&] {
        auto bc = client();
        return bc.sign_batch("tpm-queue", pb::HASH_SHA256, items).signatures_size();
    });
    std::this_thread::sleep_for(50ms);
    std::vector<std::unique_ptr<RawConnection>> raws;
    for (int i = 0; i < 5; ++i) {
        raws.push_back(std::make_unique<RawConnection>(socket()));
        ASSERT_TRUE(raws.back()->hello());
    }
    for (std::size_t i = 0; i < raws.size(); ++i)
        ASSERT_TRUE(raws[i]->send_request(sign_request(100 + i, "tpm-queue", digest)));
    int busy = 0, ok = 0;
    for (std::size_t i = 0; i < raws.size(); ++i) {
        const auto resp = raws[i]->read_response(30s);
        ASSERT_TRUE(resp);
        EXPECT_EQ(resp->id(), 100 + i);
        if (resp->status() == pb::STATUS_BUSY) {
            ++busy;
            EXPECT_NE(resp->message().find("queue"), std::string::npos) << resp->message();
        } else {
            EXPECT_EQ(resp->status(), pb::STATUS_OK) << resp->message();
            ++ok;
        }
    }
    EXPECT_GE(busy, 1);
    EXPECT_GE(ok, 1);
    // A refused connection stays usable.
    ASSERT_TRUE(raws.front()->send_request(sign_request(200, "tpm-queue", digest)));
    // The client library waits and tries again rather than report BUSY at once.
    auto other = client();
    EXPECT_EQ(other.sign("tpm-queue", pb::HASH_SHA256, digest).signature().size(), 64u);
    EXPECT_EQ(batch.get(), static_cast<int>(proto::kBatchLimitEcdsaP256));
    const auto last = raws.front()->read_response(30s);
    ASSERT_TRUE(last);
    EXPECT_TRUE(last->status() == pb::STATUS_OK || last->status() == pb::STATUS_BUSY) << last->message();
}

} // namespace
} // namespace trustkey::test
