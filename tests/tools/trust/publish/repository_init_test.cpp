// RepositoryInit and AgentSigner against the real trustkeyd and notary server; the
// result is read back by the real notary CLI and openssl.
#include "tools/trust/publish/repository_init.h"
#include "tests/fixtures/expect_error.h"

#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lib/core/error.h"
#include "tests/fixtures/tampering_proxy.h"
#include "tests/tools/trust/publish/publish_fixture.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/publish/server_key.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/snapshot.h"
#include "tools/trust/tuf/targets.h"
#include "tools/trust/tuf/timestamp.h"

namespace trustkey::test {
namespace {

using trust::RepositoryInit;

using test::expect_error;

tuf::Signed fetch(notary::NotaryClient& c, const std::string& role) {
    const auto bytes = c.get_role(role);
    if (!bytes) throw Error(Errc::not_found, role + " is not on the server");
    return tuf::Signed::parse(*bytes, role);
}

TEST_F(PublishTest, InitializedRepositoryIsReadByTheNotaryCli) {
    notary::NotaryClient c = server();
    const trust::InitializedRepository repo = RepositoryInit(m_agent, c).run();

    // What the notary CLI sees in a trust directory of its own: an empty repository.
    const ProcessResult list = notary({"list", kGun});
    EXPECT_NE(list.out.find("No targets present in this repository."), std::string::npos) << describe(list);

    // root.json as served: signed by the certificate key, which is the agent's root key.
    const tuf::Signed root_file = fetch(c, "root");
    EXPECT_EQ(root_file.to_file(), repo.published.at("root"));
    const tuf::Root root = tuf::Root::from_json(root_file.body());
    EXPECT_EQ(root.common.version, 1);
    EXPECT_EQ(root.role("root").keyids, std::vector<std::string>{repo.root_key.id()});
    EXPECT_EQ(root.keys.at(repo.root_key.id()).keytype(), "ecdsa-x509");
    EXPECT_EQ(repo.root_key.canonical_id(), repo.root_agent_key);
    EXPECT_EQ(m_agent.public_key(RepositoryInit::root_key_name(kGun)).id(), repo.root_agent_key);
    EXPECT_EQ(root_file.verify(root.role_key_map("root"), 1), std::vector<std::string>{repo.root_key.id()});
    EXPECT_EQ(root.role("targets").keyids, std::vector<std::string>{repo.targets_agent_key});
    EXPECT_EQ(root.role("snapshot").keyids,
              std::vector<std::string>{trust::fetch_server_key(c, "snapshot").id()});
    EXPECT_EQ(root.role("timestamp").keyids,
              std::vector<std::string>{trust::fetch_server_key(c, "timestamp").id()});
    EXPECT_TRUE(repo.snapshot_agent_key.empty());
    EXPECT_EQ(repo.published.count("snapshot"), 0u);

    // targets.json version 1 as uploaded; the server made snapshot and timestamp version 1.
    const tuf::Signed targets_file = fetch(c, "targets");
    EXPECT_EQ(targets_file.to_file(), repo.published.at("targets"));
    EXPECT_EQ(tuf::Targets::from_json(targets_file.body()).common.version, 1);
    const tuf::Signed snapshot_file = fetch(c, "snapshot");
    const tuf::Snapshot snapshot = tuf::Snapshot::from_json(snapshot_file.body());
    EXPECT_EQ(snapshot.common.version, 1);
    EXPECT_EQ(snapshot_file.verify(root.role_key_map("snapshot"), 1).size(), 1u);
    EXPECT_TRUE(snapshot.meta.at("targets").matches(as_bytes(repo.published.at("targets"))));
    EXPECT_TRUE(snapshot.meta.at("root").matches(as_bytes(repo.published.at("root"))));
    EXPECT_EQ(tuf::Timestamp::from_json(fetch(c, "timestamp").body()).common.version, 1);

    // The root certificate: CN = GUN, the agent's key, as openssl reads it.
    const auto cert = m_work / "root.crt";
    std::ofstream(cert) << repo.root_certificate_pem;
    EXPECT_EQ(openssl({"x509", "-in", cert.string(), "-noout", "-subject"}),
              std::string("subject=CN = ") + kGun + "\n");
    const std::string enddate = openssl({"x509", "-in", cert.string(), "-noout", "-checkend",
                                         std::to_string(9LL * 365 * 24 * 3600)});
    EXPECT_NE(enddate.find("will not expire"), std::string::npos) << enddate;
}

TEST_F(PublishTest, GivenRootKeyAndLocalSnapshotKey) {
    const auto root_key = m_agent.generate_key("my-root", proto::pb::KEY_TYPE_ECDSA_P256);
    notary::NotaryClient c = server();
    trust::RepositoryInitOptions options;
    options.root_key = "my-root";
    options.local_snapshot = true;
    const trust::InitializedRepository repo = RepositoryInit(m_agent, c).run(options);
    EXPECT_EQ(repo.root_agent_key, root_key.id());
    ASSERT_FALSE(repo.snapshot_agent_key.empty());
    EXPECT_EQ(repo.snapshot_key.id(), repo.snapshot_agent_key);

    // The uploaded snapshot is the one served, signed by the agent's snapshot key.
    const tuf::Signed snapshot_file = fetch(c, "snapshot");
    EXPECT_EQ(snapshot_file.to_file(), repo.published.at("snapshot"));
    const tuf::Root root = tuf::Root::from_json(fetch(c, "root").body());
    EXPECT_EQ(snapshot_file.verify(root.role_key_map("snapshot"), 1),
              std::vector<std::string>{repo.snapshot_agent_key});
    const ProcessResult list = notary({"list", kGun});
    EXPECT_NE(list.out.find("No targets present in this repository."), std::string::npos) << describe(list);
}

TEST_F(PublishTest, InitRefusesAnExistingRepositoryAndBadKeys) {
    notary::NotaryClient c = server();
    RepositoryInit init(m_agent, c);
    (void)init.run();
    EXPECT_EQ(expect_error([&] { (void)init.run(); }).errc(), Errc::already_exists);

    notary::NotaryClient other = server("registry.example.com/team/other");
    trust::RepositoryInitOptions options;
    options.root_key = "no-such-key";
    const Error missing = expect_error([&] { (void)RepositoryInit(m_agent, other).run(options); });
    EXPECT_EQ(missing.errc(), Errc::not_found) << missing.what();
    EXPECT_EQ(missing.code_name(), "key_not_found") << missing.what();
    EXPECT_NE(std::string(missing.what()).find("no-such-key"), std::string::npos) << missing.what();
    (void)m_agent.generate_key("rsa-root", proto::pb::KEY_TYPE_RSA_2048);
    options.root_key = "rsa-root";
    EXPECT_EQ(expect_error([&] { (void)RepositoryInit(m_agent, other).run(options); }).errc(),
              Errc::unsupported_algorithm);
    EXPECT_FALSE(other.get_role("root").has_value());
}

// The ids of the keys trustkeyd holds.
std::set<std::string> agent_key_ids(proto::Client& agent) {
    std::set<std::string> ids;
    for (const auto& key : agent.list_keys()) ids.insert(key.id());
    return ids;
}

TEST_F(PublishTest, RefusedInitKeepsOnlyTheKeysThatExistedBefore) {
    TamperingProxy proxy({.upstream = m_notary.url(), .upstream_ca = m_notary.ca_cert_path()});
    proxy.set_rules({TamperRule{.method = "POST", .action = TamperRule::Action::status, .status = 503}});
    http::ClientOptions via;
    via.ca_file = proxy.ca_cert_path();
    notary::NotaryClient c(proxy.url(), kGun, via);
    const auto given_root = m_agent.generate_key("given-root", proto::pb::KEY_TYPE_ECDSA_P256);
    const std::set<std::string> before = agent_key_ids(m_agent);

    // A given root key stays; the targets and snapshot keys made for the repository go.
    trust::RepositoryInitOptions options;
    options.root_key = "given-root";
    options.local_snapshot = true;
    EXPECT_EQ(expect_error([&] { (void)RepositoryInit(m_agent, c).run(options); }).code(), 503u);
    EXPECT_EQ(agent_key_ids(m_agent), before);
    EXPECT_EQ(m_agent.public_key("given-root").id(), given_root.id());

    // A root key made by the initialization goes with the others.
    EXPECT_EQ(expect_error([&] { (void)RepositoryInit(m_agent, c).run(); }).code(), 503u);
    EXPECT_EQ(agent_key_ids(m_agent), before);
    EXPECT_EQ(proxy.tampered_requests(), 2u) << proxy.log_tail();
    EXPECT_FALSE(server().get_role("root").has_value());

    // A root key that exists under the repository's name is reused, and stays.
    const auto named_root = m_agent.generate_key(RepositoryInit::root_key_name(kGun), proto::pb::KEY_TYPE_ECDSA_P256);
    const std::set<std::string> with_named = agent_key_ids(m_agent);
    EXPECT_EQ(expect_error([&] { (void)RepositoryInit(m_agent, c).run(); }).code(), 503u);
    EXPECT_EQ(agent_key_ids(m_agent), with_named);
    EXPECT_TRUE(with_named.contains(named_root.id()));

    // Without the refusal the same run keeps what it made.
    proxy.clear_rules();
    const trust::InitializedRepository repo = RepositoryInit(m_agent, c).run();
    EXPECT_TRUE(agent_key_ids(m_agent).contains(repo.targets_agent_key));
}

TEST_F(PublishTest, AgentSignerChecksKeysAndMethods) {
    trust::AgentSigner signer(m_agent);
    const auto info = m_agent.generate_key("signer-check", proto::pb::KEY_TYPE_ECDSA_P256);
    const tuf::Key key = tuf::Key::from_spki(as_bytes(info.public_key()));
    EXPECT_TRUE(signer.holds(key));
    const auto other = m_agent.generate_key("signer-other", proto::pb::KEY_TYPE_ECDSA_P256);
    const tuf::Key other_key = tuf::Key::from_spki(as_bytes(other.public_key()));
    m_agent.delete_key(other.id());
    EXPECT_FALSE(signer.holds(other_key));

    const std::string message = R"({"_type":"Targets"})";
    EXPECT_EQ(expect_error([&] { (void)signer.sign(key.id(), "ecdsa", as_bytes(message)); }).errc(),
              Errc::not_found);
    const tuf::SigningKey sk = signer.add(key);
    EXPECT_EQ(sk.keyid, info.id());
    EXPECT_EQ(sk.method, "ecdsa");
    const Bytes sig = signer.sign(sk.keyid, sk.method, as_bytes(message));
    EXPECT_EQ(sig.size(), 64u);
    EXPECT_TRUE(key.verify("ecdsa", as_bytes(message), sig));
    EXPECT_EQ(expect_error([&] { (void)signer.sign(sk.keyid, "rsapss", as_bytes(message)); }).errc(),
              Errc::unsupported_algorithm);
    // A registered key the agent no longer holds: a clear error with the agent's status.
    signer.add(other_key);
    const Error gone = expect_error([&] { (void)signer.sign(other_key.id(), "ecdsa", as_bytes(message)); });
    EXPECT_EQ(gone.errc(), Errc::not_found) << gone.what();
    EXPECT_EQ(gone.code_name(), "key_not_found") << gone.what();
}

TEST_F(PublishTest, AgentSignerAsksTheAgentOncePerKey) {
    // A publish asks holds() for every tag and role: the answer is remembered per signer.
    trust::AgentSigner signer(m_agent);
    const auto info = m_agent.generate_key("signer-once", proto::pb::KEY_TYPE_ECDSA_P256);
    const tuf::Key key = tuf::Key::from_spki(as_bytes(info.public_key()));
    EXPECT_TRUE(signer.holds(key));
    m_agent.delete_key(info.id());
    EXPECT_TRUE(signer.holds(key));
    // A new signer asks again and sees the key gone.
    trust::AgentSigner fresh(m_agent);
    EXPECT_FALSE(fresh.holds(key));
    EXPECT_FALSE(fresh.holds(key));
}

TEST(ServerKey, ParsesTheGoFieldOrder) {
    // As notary-server writes it: "public" before "private", not canonical.
    const std::string body =
        R"({"keytype":"ed25519","keyval":{"public":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=","private":null}})";
    const tuf::Key key = trust::parse_server_key(body, "timestamp");
    EXPECT_EQ(key.keytype(), "ed25519");
    EXPECT_EQ(key.canonical_json(),
              R"({"keytype":"ed25519","keyval":{"private":null,"public":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="}})");
    EXPECT_THROW(trust::parse_server_key("{", "timestamp"), Error);
    EXPECT_THROW(trust::parse_server_key(R"({"keytype":"ecdsa","keyval":{"public":"AA==","private":null}})",
                                         "timestamp"),
                 Error);
}

} // namespace
} // namespace trustkey::test
