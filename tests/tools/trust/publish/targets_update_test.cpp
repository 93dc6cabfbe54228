// TargetsUpdate against the real trustkeyd and notary server; results read back by
// the real notary CLI.
#include "tools/trust/publish/targets_update.h"
#include "tests/fixtures/expect_error.h"

#include <algorithm>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/tools/trust/publish/publish_fixture.h"
#include "tools/trust/publish/repository_init.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/snapshot.h"
#include "tools/trust/tuf/targets.h"

namespace trustkey::test {
namespace {

using trust::TargetsUpdate;

using test::expect_error;

std::vector<std::string> words(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

// The rows of a notary table whose first column is `first`.
std::vector<std::vector<std::string>> rows(const std::string& table, const std::string& first) {
    std::vector<std::vector<std::string>> out;
    std::istringstream in(table);
    for (std::string line; std::getline(in, line);) {
        auto w = words(line);
        if (!w.empty() && w[0] == first) out.push_back(std::move(w));
    }
    return out;
}

std::int64_t version_of(notary::NotaryClient& c, const std::string& role) {
    const auto bytes = c.get_role(role);
    if (!bytes) return 0;
    return tuf::Signed::parse(*bytes, role).body().at("version").get<std::int64_t>();
}

class TargetsUpdateTest : public PublishTest {
protected:
    void SetUp() override { m_repo = trust::RepositoryInit(m_agent, m_server).run(m_init); }

    tuf::Key agent_key(const std::string& name) {
        const auto info = m_agent.generate_key(name, proto::pb::KEY_TYPE_ECDSA_P256);
        return tuf::Key::from_spki(as_bytes(info.public_key()));
    }

    // Expects exactly one row `name` in `notary list` with this digest, size and role.
    void expect_listed(const std::string& name, const Bytes& digest, std::size_t size, const std::string& role) {
        const ProcessResult list = notary({"list", kGun});
        const auto found = rows(list.out, name);
        ASSERT_EQ(found.size(), 1u) << describe(list);
        ASSERT_GE(found[0].size(), 4u) << describe(list);
        EXPECT_EQ(found[0][1], to_hex(digest)) << describe(list);
        EXPECT_EQ(found[0][2], std::to_string(size)) << describe(list);
        EXPECT_EQ(found[0][3], role) << describe(list);
    }

    notary::NotaryClient m_server = server();
    trust::RepositoryInitOptions m_init;
    std::optional<trust::InitializedRepository> m_repo;
};

const std::string kManifest = R"({"schemaVersion":2,"config":{"digest":"sha256:00"}})";

TEST_F(TargetsUpdateTest, TargetInTargetsIsListedByTheNotaryCli) {
    const Bytes digest = sha256(as_bytes(kManifest));
    TargetsUpdate update(m_agent, m_server);
    update.add_target("targets", "v1", digest, static_cast<std::int64_t>(kManifest.size()));
    const auto published = update.publish();
    EXPECT_EQ(published.count("targets"), 1u);
    EXPECT_EQ(published.count("snapshot"), 0u); // the server signs the snapshot
    EXPECT_EQ(version_of(m_server, "targets"), 2);
    EXPECT_EQ(version_of(m_server, "snapshot"), 2);
    EXPECT_EQ(*m_server.get_role("targets"), published.at("targets"));
    expect_listed("v1", digest, kManifest.size(), "targets");

    // A second change builds on the first; removing a tag takes it out of the listing.
    update.add_target("targets", "v2", digest, static_cast<std::int64_t>(kManifest.size()));
    update.remove_target("targets", "v1");
    (void)update.publish();
    EXPECT_EQ(version_of(m_server, "targets"), 3);
    expect_listed("v2", digest, kManifest.size(), "targets");
    EXPECT_TRUE(rows(notary({"list", kGun}).out, "v1").empty());
    EXPECT_EQ(expect_error([&] { update.remove_target("targets", "v1"); }).errc(), Errc::not_found);
}

TEST_F(TargetsUpdateTest, DelegationSignedByAnAgentKeyIsListed) {
    const tuf::Key signer_key = agent_key("alice");
    TargetsUpdate update(m_agent, m_server);
    update.add_signer("alice", {signer_key});
    const auto first = update.publish();
    EXPECT_EQ(first.size(), 1u); // only targets.json changes
    const tuf::Targets targets = tuf::Targets::from_json(tuf::Signed::parse(first.at("targets"), "targets").body());
    ASSERT_NE(targets.delegations.find("targets/releases"), nullptr);
    ASSERT_NE(targets.delegations.find("targets/alice"), nullptr);
    EXPECT_EQ(targets.delegations.find("targets/releases")->paths, std::vector<std::string>{""});

    const Bytes digest = sha256(as_bytes(kManifest));
    update.add_target("targets/releases", "v1", digest, static_cast<std::int64_t>(kManifest.size()));
    update.add_target("targets/alice", "v1", digest, static_cast<std::int64_t>(kManifest.size()));
    (void)update.publish();
    EXPECT_EQ(version_of(m_server, "targets/releases"), 1);
    EXPECT_EQ(version_of(m_server, "targets/alice"), 1);
    const tuf::Snapshot snapshot =
        tuf::Snapshot::from_json(tuf::Signed::parse(*m_server.get_role("snapshot"), "snapshot").body());
    EXPECT_EQ(snapshot.meta.count("targets/releases"), 1u);

    // `notary list` shows each tag once, from the first delegation in targets.json's
    // order that holds it (targets/alice, added first, as docker adds them).
    const ProcessResult list = notary({"list", kGun});
    const auto found = rows(list.out, "v1");
    ASSERT_EQ(found.size(), 1u) << describe(list);
    ASSERT_GE(found[0].size(), 4u) << describe(list);
    EXPECT_EQ(found[0][1], to_hex(digest));
    EXPECT_EQ(found[0][2], std::to_string(kManifest.size()));
    EXPECT_EQ(found[0][3], "targets/alice") << describe(list);
    const ProcessResult releases = notary({"list", kGun, "--roles", "targets/releases"});
    const auto from_releases = rows(releases.out, "v1");
    ASSERT_EQ(from_releases.size(), 1u) << describe(releases);
    ASSERT_GE(from_releases[0].size(), 4u) << describe(releases);
    EXPECT_EQ(from_releases[0][1], to_hex(digest));
    EXPECT_EQ(from_releases[0][3], "targets/releases") << describe(releases);

    // `notary delegation list` shows the agent key's id for both delegations.
    const ProcessResult delegations = notary({"delegation", "list", kGun});
    for (const char* role : {"targets/releases", "targets/alice"}) {
        const auto row = rows(delegations.out, role);
        ASSERT_EQ(row.size(), 1u) << role << "\n" << describe(delegations);
        EXPECT_NE(std::find(row[0].begin(), row[0].end(), signer_key.canonical_id()), row[0].end())
            << role << "\n" << describe(delegations);
    }
    EXPECT_EQ(signer_key.canonical_id(), m_agent.public_key("alice").id());
}

TEST_F(TargetsUpdateTest, AStaleVersionIsRefusedWithTheServersCode) {
    const Bytes digest = sha256(as_bytes(kManifest));
    TargetsUpdate first(m_agent, m_server);
    TargetsUpdate second(m_agent, m_server);
    (void)first.staged("targets");
    (void)second.staged("targets"); // both start from version 1
    first.add_target("targets", "v1", digest, 10);
    (void)first.publish();
    second.add_target("targets", "v2", digest, 20);
    const Error e = expect_error([&] { (void)second.publish(); });
    EXPECT_EQ(e.code_name(), "VERSION") << e.what();
    EXPECT_EQ(e.code(), 400u) << e.what();
    EXPECT_NE(std::string(e.what()).find("VERSION"), std::string::npos) << e.what();
    EXPECT_EQ(version_of(m_server, "targets"), 2);
    expect_listed("v1", digest, 10, "targets");
    EXPECT_TRUE(rows(notary({"list", kGun}).out, "v2").empty());

    // Starting again from what the server holds works.
    TargetsUpdate again(m_agent, m_server);
    again.add_target("targets", "v2", digest, 20);
    (void)again.publish();
    EXPECT_EQ(version_of(m_server, "targets"), 3);
    expect_listed("v2", digest, 20, "targets");
}

TEST_F(TargetsUpdateTest, BadChangesAreRefusedBeforePublishing) {
    TargetsUpdate update(m_agent, m_server);
    const Bytes digest = sha256(as_bytes(kManifest));
    EXPECT_EQ(expect_error([&] { update.add_target("targets", "v1", Bytes(31, 1), 1); }).errc(),
              Errc::invalid_argument);
    EXPECT_EQ(expect_error([&] { update.add_target("targets", "", digest, 1); }).errc(), Errc::invalid_argument);
    EXPECT_EQ(expect_error([&] { update.add_target("targets", "v1", digest, -1); }).errc(), Errc::invalid_argument);
    EXPECT_EQ(expect_error([&] { update.add_target("Targets/X", "v1", digest, 1); }).errc(), Errc::invalid_argument);
    EXPECT_EQ(expect_error([&] { update.add_target("targets/nobody", "v1", digest, 1); }).errc(), Errc::not_found);
    EXPECT_EQ(expect_error([&] { update.add_signer("releases", {agent_key("r")}); }).errc(), Errc::invalid_argument);
    EXPECT_EQ(expect_error([&] { update.add_delegation("targets/empty", {}); }).errc(), Errc::invalid_argument);
    EXPECT_TRUE(update.publish().empty());
    EXPECT_EQ(version_of(m_server, "targets"), 1);

    // A delegation whose key the agent does not hold cannot be signed.
    const tuf::Key foreign = agent_key("foreign");
    m_agent.delete_key(foreign.id());
    update.add_delegation("targets/ci", {foreign});
    (void)update.publish();
    update.add_target("targets/ci", "v1", digest, 1);
    const Error e = expect_error([&] { (void)update.publish(); });
    EXPECT_EQ(e.errc(), Errc::denied) << e.what();
    EXPECT_NE(std::string(e.what()).find("targets/ci"), std::string::npos) << e.what();
    EXPECT_EQ(version_of(m_server, "targets/ci"), 0);

    // No repository on the server.
    notary::NotaryClient none = server("registry.example.com/team/none");
    TargetsUpdate missing(m_agent, none);
    EXPECT_EQ(expect_error([&] { missing.add_target("targets", "v1", digest, 1); }).errc(), Errc::not_found);
}

TEST_F(TargetsUpdateTest, RemoveSignerDropsItsRoleAndReleaseKeys) {
    const tuf::Key alice = agent_key("alice");
    const tuf::Key bob = agent_key("bob");
    TargetsUpdate update(m_agent, m_server);
    update.add_signer("alice", {alice});
    update.add_signer("bob", {bob});
    (void)update.publish();

    update.remove_signer("alice");
    const auto published = update.publish();
    const tuf::Targets targets =
        tuf::Targets::from_json(tuf::Signed::parse(published.at("targets"), "targets").body());
    EXPECT_EQ(targets.delegations.find("targets/alice"), nullptr);
    ASSERT_NE(targets.delegations.find("targets/releases"), nullptr);
    EXPECT_EQ(targets.delegations.find("targets/releases")->keys.keyids, std::vector<std::string>{bob.id()});
    EXPECT_EQ(targets.delegations.keys.count(alice.id()), 0u);
    EXPECT_EQ(targets.delegations.keys.count(bob.id()), 1u);

    // The last signer takes targets/releases with it.
    update.remove_signer("bob");
    const auto last = update.publish();
    const tuf::Targets empty = tuf::Targets::from_json(tuf::Signed::parse(last.at("targets"), "targets").body());
    EXPECT_TRUE(empty.delegations.roles.empty());
    EXPECT_TRUE(empty.delegations.keys.empty());
    const ProcessResult list = notary({"delegation", "list", kGun});
    EXPECT_EQ(list.out.find("targets/"), std::string::npos) << describe(list);

    EXPECT_EQ(expect_error([&] { update.remove_signer("alice"); }).errc(), Errc::not_found);
    EXPECT_EQ(expect_error([&] { update.remove_signer("releases"); }).errc(), Errc::invalid_argument);
}

class LocalSnapshotTest : public TargetsUpdateTest {
protected:
    void SetUp() override {
        m_init.local_snapshot = true;
        TargetsUpdateTest::SetUp();
    }
};

TEST_F(LocalSnapshotTest, SnapshotIsSignedByTheAgentAndPublished) {
    const Bytes digest = sha256(as_bytes(kManifest));
    TargetsUpdate update(m_agent, m_server);
    update.add_target("targets", "v1", digest, static_cast<std::int64_t>(kManifest.size()));
    const auto published = update.publish();
    ASSERT_EQ(published.count("snapshot"), 1u);
    EXPECT_EQ(*m_server.get_role("snapshot"), published.at("snapshot"));
    EXPECT_EQ(version_of(m_server, "snapshot"), 2);
    expect_listed("v1", digest, kManifest.size(), "targets");

    const tuf::Key signer_key = agent_key("bob");
    update.add_signer("bob", {signer_key});
    (void)update.publish();
    update.add_target("targets/releases", "v2", digest, static_cast<std::int64_t>(kManifest.size()));
    const auto third = update.publish();
    const tuf::Snapshot snapshot =
        tuf::Snapshot::from_json(tuf::Signed::parse(third.at("snapshot"), "snapshot").body());
    EXPECT_EQ(snapshot.common.version, 4);
    EXPECT_TRUE(snapshot.meta.at("targets/releases").matches(as_bytes(third.at("targets/releases"))));
    expect_listed("v2", digest, kManifest.size(), "targets/releases");
}

} // namespace
} // namespace trustkey::test
