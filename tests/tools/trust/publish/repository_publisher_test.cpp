// RepositoryPublisher against the real trustkeyd and notary server: verified updates
// based on the trust directory's cache, retries when another writer publishes in
// between, and a cache that changes only after a successful publish. Results are read
// back by the real notary CLI.
#include "tools/trust/publish/repository_publisher.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/fixtures/expect_error.h"
#include "tests/tools/trust/publish/publish_fixture.h"
#include "tools/trust/client/metadata_cache.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/targets.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using trust::RepositoryPublisher;
using trust::RetryPolicy;
using trust::TargetsUpdate;

const std::string kManifest = R"({"schemaVersion":2,"config":{"digest":"sha256:01"}})";
constexpr RetryPolicy kQuickRetries{5, std::chrono::milliseconds(1)};

// Every file under `dir`, relative path -> bytes.
std::map<std::string, std::string> tree(const fs::path& dir) {
    std::map<std::string, std::string> out;
    if (!fs::exists(dir)) return out;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        out.emplace(fs::relative(entry.path(), dir).string(), bytes.str());
    }
    return out;
}

class RepositoryPublisherTest : public PublishTest {
protected:
    fs::path trust_dir(const std::string& name) const { return m_work / name; }
    fs::path cache_dir(const std::string& name) const { return trust_dir(name) / "tuf" / kGun / "metadata"; }

    // Publishes tag `name` into targets with its own publisher and trust directory.
    void publish_elsewhere(const std::string& name) {
        notary::NotaryClient other = server();
        RepositoryPublisher publisher(m_agent, other, trust_dir("trust-other"), kQuickRetries);
        (void)publisher.publish([&](TargetsUpdate& update) { add(update, name); });
    }

    static void add(TargetsUpdate& update, const std::string& name) {
        update.add_target("targets", name, sha256(as_bytes(kManifest)), static_cast<std::int64_t>(kManifest.size()));
    }

    bool listed(const std::string& name) {
        const ProcessResult list = notary({"list", kGun});
        std::istringstream lines(list.out);
        for (std::string line; std::getline(lines, line);)
            if (line.rfind(name + " ", 0) == 0) return true;
        return false;
    }

    notary::NotaryClient m_server = server();
};

TEST_F(RepositoryPublisherTest, InitializeStartsTheCacheAndPublishKeepsItCurrent) {
    RepositoryPublisher publisher(m_agent, m_server, trust_dir("trust-a"), kQuickRetries);
    EXPECT_FALSE(publisher.exists());
    const auto made = publisher.initialize();
    ASSERT_TRUE(made.has_value());
    EXPECT_TRUE(publisher.exists());
    // The cache holds exactly what was published.
    std::map<std::string, std::string> expected;
    for (const auto& [role, bytes] : made->published) expected.emplace(role + ".json", bytes);
    EXPECT_EQ(tree(cache_dir("trust-a")), expected);

    const auto published = publisher.publish([](TargetsUpdate& update) { add(update, "v1"); });
    EXPECT_EQ(publisher.attempts(), 1);
    ASSERT_EQ(published.count("targets"), 1u);
    // After the publish the cache holds the server's current files, verified.
    const auto cached = tree(cache_dir("trust-a"));
    for (const char* role : {"root", "targets", "snapshot", "timestamp"})
        EXPECT_EQ(cached.at(std::string(role) + ".json"), *m_server.get_role(role)) << role;
    EXPECT_EQ(cached.at("targets.json"), published.at("targets"));
    EXPECT_TRUE(listed("v1"));

    // A second initialization finds the repository there.
    RepositoryPublisher again(m_agent, m_server, trust_dir("trust-b"), kQuickRetries);
    EXPECT_EQ(expect_error([&] { (void)trust::RepositoryInit(m_agent, m_server).run(); }).errc(),
              Errc::already_exists);
    EXPECT_FALSE(again.initialize().has_value());
}

TEST_F(RepositoryPublisherTest, AWriterThatLostTheRaceRetriesAndBothChangesLand) {
    RepositoryPublisher a(m_agent, m_server, trust_dir("trust-a"), kQuickRetries);
    ASSERT_TRUE(a.initialize().has_value());
    int calls = 0;
    // A loads the repository, B publishes, then A publishes: the server refuses A's
    // stale version once; A starts again from B's state.
    const auto published = a.publish([&](TargetsUpdate& update) {
        ++calls;
        add(update, "from-a");
        if (calls == 1) publish_elsewhere("from-b");
    });
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(a.attempts(), 2);
    EXPECT_EQ(*m_server.get_role("targets"), published.at("targets"));
    const tuf::Targets targets =
        tuf::Targets::from_json(tuf::Signed::parse(published.at("targets"), "targets").body());
    EXPECT_EQ(targets.common.version, 3); // 1 from init, 2 from B, 3 from A
    EXPECT_TRUE(listed("from-a"));
    EXPECT_TRUE(listed("from-b"));
    EXPECT_EQ(tree(cache_dir("trust-a")).at("targets.json"), published.at("targets"));
}

TEST_F(RepositoryPublisherTest, WithALocalSnapshotKeyTheLoserRetriesToo) {
    trust::RepositoryInitOptions local;
    local.local_snapshot = true;
    RepositoryPublisher a(m_agent, m_server, trust_dir("trust-a"), kQuickRetries);
    ASSERT_TRUE(a.initialize(local).has_value());
    int calls = 0;
    const auto published = a.publish([&](TargetsUpdate& update) {
        ++calls;
        add(update, "from-a");
        if (calls == 1) publish_elsewhere("from-b");
    });
    EXPECT_EQ(a.attempts(), 2);
    ASSERT_EQ(published.count("snapshot"), 1u); // signed by the agent's snapshot key
    EXPECT_EQ(*m_server.get_role("snapshot"), published.at("snapshot"));
    EXPECT_TRUE(listed("from-a"));
    EXPECT_TRUE(listed("from-b"));
}

TEST_F(RepositoryPublisherTest, ASignerAddedAgainFollowsItsOldFilesVersion) {
    RepositoryPublisher a(m_agent, m_server, trust_dir("trust-a"), kQuickRetries);
    ASSERT_TRUE(a.initialize().has_value());
    const auto info = m_agent.generate_key("alice", proto::pb::KEY_TYPE_ECDSA_P256);
    const tuf::Key alice = tuf::Key::from_spki(as_bytes(info.public_key()));
    const auto sign_into_alice = [](const std::string& tag) {
        return [tag](TargetsUpdate& update) {
            update.add_target("targets/alice", tag, sha256(as_bytes(kManifest)),
                              static_cast<std::int64_t>(kManifest.size()));
        };
    };
    (void)a.publish([&](TargetsUpdate& update) { update.add_signer("alice", {alice}); });
    (void)a.publish(sign_into_alice("v1"));
    (void)a.publish([](TargetsUpdate& update) { update.remove_signer("alice"); });
    // The server still keeps targets/alice version 1, which targets no longer delegates:
    // added back and signed into in one publish, the file starts empty at version 2.
    const auto published = a.publish([&](TargetsUpdate& update) {
        update.add_signer("alice", {alice});
        sign_into_alice("v2")(update);
    });
    EXPECT_EQ(a.attempts(), 1);
    const tuf::Targets file =
        tuf::Targets::from_json(tuf::Signed::parse(published.at("targets/alice"), "targets/alice").body(),
                                "targets/alice");
    EXPECT_EQ(file.common.version, 2);
    EXPECT_EQ(file.targets.count("v1"), 0u); // the old file's content is not carried over
    EXPECT_TRUE(listed("v2"));
    EXPECT_FALSE(listed("v1"));
}

TEST_F(RepositoryPublisherTest, RetriesRunOutWithOneClearErrorAndTheCacheUnchanged) {
    RepositoryPublisher a(m_agent, m_server, trust_dir("trust-a"), RetryPolicy{3, std::chrono::milliseconds(1)});
    ASSERT_TRUE(a.initialize().has_value());
    const auto before = tree(cache_dir("trust-a"));
    int calls = 0;
    // Another writer publishes after every load of A's: A always loses.
    const Error e = expect_error([&] {
        (void)a.publish([&](TargetsUpdate& update) {
            ++calls;
            add(update, "from-a");
            publish_elsewhere("from-b-" + std::to_string(calls));
        });
    });
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(a.attempts(), 3);
    const std::string text = e.what();
    EXPECT_NE(text.find(kGun), std::string::npos) << text;
    EXPECT_NE(text.find(m_server.base_url()), std::string::npos) << text;
    EXPECT_NE(text.find("updated concurrently 3 times"), std::string::npos) << text;
    EXPECT_EQ(text.find('\n'), std::string::npos) << text;
    EXPECT_EQ(e.code_name(), "VERSION") << text;
    EXPECT_FALSE(listed("from-a"));
    EXPECT_TRUE(listed("from-b-3"));
    EXPECT_EQ(tree(cache_dir("trust-a")), before);
}

TEST_F(RepositoryPublisherTest, AReplacedRootIsRefusedAndNothingChanges) {
    RepositoryPublisher a(m_agent, m_server, trust_dir("trust-a"), kQuickRetries);
    ASSERT_TRUE(a.initialize().has_value());
    (void)a.publish([](TargetsUpdate& update) { add(update, "v1"); });
    const auto cached = tree(cache_dir("trust-a"));

    // The repository is deleted and made again under another root key.
    m_server.delete_repository();
    trust::RepositoryInitOptions other;
    other.root_key = m_agent.generate_key("other-root", proto::pb::KEY_TYPE_ECDSA_P256).id();
    (void)trust::RepositoryInit(m_agent, m_server).run(other);
    const std::string served_targets = *m_server.get_role("targets");

    int calls = 0;
    const Error e = expect_error([&] {
        (void)a.publish([&](TargetsUpdate& update) {
            ++calls;
            add(update, "v2");
        });
    });
    EXPECT_EQ(calls, 0); // refused before any change
    EXPECT_EQ(e.errc(), Errc::denied) << e.what();
    EXPECT_EQ(e.subject(), "root") << e.what();
    EXPECT_NE(std::string(e.what()).find("not a valid rotation"), std::string::npos) << e.what();
    EXPECT_EQ(*m_server.get_role("targets"), served_targets);
    EXPECT_EQ(tree(cache_dir("trust-a")), cached);

    // A publisher without that cache trusts the new root on first use.
    RepositoryPublisher fresh(m_agent, m_server, trust_dir("trust-fresh"), kQuickRetries);
    (void)fresh.publish([](TargetsUpdate& update) { add(update, "v3"); });
    EXPECT_TRUE(listed("v3"));
}

TEST_F(RepositoryPublisherTest, ARolledBackServerIsRefused) {
    RepositoryPublisher a(m_agent, m_server, trust_dir("trust-a"), kQuickRetries);
    ASSERT_TRUE(a.initialize().has_value());
    (void)a.publish([](TargetsUpdate& update) { add(update, "v1"); });
    // The cache claims a newer targets.json than the server serves.
    trust::MetadataCache cache(trust_dir("trust-a"), kGun);
    auto files = tree(cache_dir("trust-a"));
    std::string targets = files.at("targets.json");
    const auto at = targets.find("\"version\":2");
    ASSERT_NE(at, std::string::npos) << targets;
    targets.replace(at, 11, "\"version\":9");
    cache.write({{"targets", targets}});
    const auto before = tree(cache_dir("trust-a"));
    const Error e = expect_error([&] { (void)a.publish([](TargetsUpdate& update) { add(update, "v2"); }); });
    EXPECT_EQ(e.code_name(), "rollback") << e.what();
    EXPECT_EQ(e.subject(), "targets") << e.what();
    EXPECT_EQ(tree(cache_dir("trust-a")), before);
    EXPECT_FALSE(listed("v2"));
}

} // namespace
} // namespace trustkey::test
