// `trustkey trust key rotate` run as the real binary against a real trustkeyd and notary
// server: snapshot to a key trustkeyd holds and back, root rotation and certificate
// renewal followed by clients that cached the old root (the real notary CLI, Debian's
// `docker trust inspect` and `trustkey trust verify`), and targets rotation renewing
// targets' expiry.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/cli_daemon.h"
#include "tests/tools/trustkey/trust/docker_trust.h"
#include "tools/trust/notary/notary_client.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/key.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/targets.h"
#include "trustkey/proto/client.h"

namespace trustkey::test {
namespace {

const std::string kDigestHex(64, 'b');
constexpr const char* kGun = "registry.example.com/team/rotated";

class KeyRotationTest : public ::testing::Test {
protected:
    std::string image(const std::string& tag = {}) const { return std::string(kGun) + (tag.empty() ? "" : ":" + tag); }

    ProcessResult trust(std::vector<std::string> args) const {
        std::vector<std::string> full{"trust", "--server", m_notary.url(), "--tlscacert",
                                      m_notary.ca_cert_path().string(), "--trust-dir", m_trust_dir.string()};
        full.insert(full.end(), args.begin(), args.end());
        ProcessOptions o;
        o.env.push_back("DOCKER_CONFIG=" + (m_work / "docker").string());
        o.unset.push_back("DOCKER_CONTENT_TRUST_SERVER");
        return m_daemon.trustkey(full, o);
    }

    std::string describe(const ProcessResult& r) const {
        return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err + "\n" +
               m_notary.log_tail(10);
    }

    void sign(const std::string& tag) {
        const ProcessResult r = trust({"sign", image(tag), "--digest", "sha256:" + kDigestHex, "--size", "42"});
        ASSERT_EQ(r.exit_code, 0) << describe(r);
    }

    // Runs `trust key rotate REPO args…`, expects success; returns the new key id it prints.
    std::string rotate(const std::vector<std::string>& args, ProcessResult* result = nullptr) {
        std::vector<std::string> full{"key", "rotate", image()};
        full.insert(full.end(), args.begin(), args.end());
        const ProcessResult r = trust(full);
        if (result != nullptr) *result = r;
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        const auto at = r.out.find("(new key ");
        if (at == std::string::npos || r.out.size() < at + 9 + 64) return {};
        return r.out.substr(at + 9, 64);
    }

    // `notary args…` with the trust directory `dir` (kept between calls); expects success.
    std::string notary_in(const std::filesystem::path& dir, const std::vector<std::string>& args) {
        const ProcessResult r = m_notary.run_notary(dir, args);
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        return r.out;
    }
    std::string notary(const std::vector<std::string>& args) {
        return notary_in(m_work / ("notary-" + std::to_string(++m_runs)), args);
    }

    // Whether `notary list` in `dir` lists `tag` with the signed digest.
    bool listed_in(const std::filesystem::path& dir, const std::string& tag) {
        std::istringstream lines(notary_in(dir, {"list", kGun}));
        for (std::string line; std::getline(lines, line);)
            if (line.rfind(tag + " ", 0) == 0) return line.find(kDigestHex) != std::string::npos;
        return false;
    }
    bool listed(const std::string& tag) { return listed_in(m_work / ("notary-" + std::to_string(++m_runs)), tag); }

    // The real notary client's `lookup` and trustkey's own verifier both find `tag`.
    void expect_verified(const std::string& tag) {
        EXPECT_TRUE(listed(tag)) << tag;
        EXPECT_NE(notary({"lookup", kGun, tag}).find(kDigestHex), std::string::npos) << tag;
        const ProcessResult v = trust({"verify", image(tag)});
        EXPECT_EQ(v.exit_code, 0) << describe(v);
        EXPECT_EQ(v.out, "sha256:" + kDigestHex + "\n");
    }

    // Debian's `docker trust inspect REPO` (20.10), with its trust cache kept in m_work/docker.
    nlohmann::json docker_inspect() const {
        return docker_trust_inspect(m_notary, m_work / "docker", m_work.path(), kGun);
    }

    // The role's file as the server serves it.
    nlohmann::json served(const std::string& role) const {
        const ProcessResult r = m_notary.https_get("/v2/" + std::string(kGun) + "/_trust/tuf/" + role + ".json");
        EXPECT_EQ(r.exit_code, 0) << r.out;
        return nlohmann::json::parse(r.out, nullptr, false);
    }

    static std::vector<std::string> signature_ids(const nlohmann::json& file) {
        std::vector<std::string> ids;
        for (const auto& sig : file.at("signatures")) ids.push_back(sig.at("keyid").get<std::string>());
        return ids;
    }

    // The version of root.json cached under a trust directory (notary's and trustkey's layout).
    static std::int64_t cached_root_version(const std::filesystem::path& dir) {
        std::ifstream in(dir / "tuf" / kGun / "metadata" / "root.json");
        const nlohmann::json root = nlohmann::json::parse(in, nullptr, false);
        return root.is_discarded() ? -1 : root.at("signed").at("version").get<std::int64_t>();
    }

    static std::string role_key(const nlohmann::json& root, const std::string& role) {
        const auto& ids = root.at("signed").at("roles").at(role).at("keyids");
        return ids.size() == 1 ? ids[0].get<std::string>() : std::string();
    }

    NotaryServer m_notary;
    CliDaemon m_daemon;
    TempDir m_work{"trustkey-key-rotation"};
    std::filesystem::path m_trust_dir = m_work / "trust";
    int m_runs = 0;
};

TEST_F(KeyRotationTest, SnapshotToAgentKeyAndBack) {
    // A signer, so the snapshot also lists delegation files (targets/alice, targets/releases).
    const ProcessResult gen = trust({"key", "generate", "alice", "--dir", m_work.path().string()});
    ASSERT_EQ(gen.exit_code, 0) << describe(gen);
    const ProcessResult add = trust({"signer", "add", "--key", (m_work / "alice.pub").string(), "alice", image()});
    ASSERT_EQ(add.exit_code, 0) << describe(add);
    sign("v1");
    const std::string server_snapshot_key = role_key(served("root"), "snapshot");
    const std::int64_t snapshot_version = served("snapshot").at("signed").at("version").get<std::int64_t>();

    const std::string agent_key = rotate({"snapshot"});
    ASSERT_EQ(agent_key.size(), 64u);
    EXPECT_NE(agent_key, server_snapshot_key);
    EXPECT_EQ(role_key(served("root"), "snapshot"), agent_key);
    // The server cannot make this snapshot: the one uploaded with root is signed by the new key.
    nlohmann::json snapshot = served("snapshot");
    EXPECT_EQ(signature_ids(snapshot), std::vector<std::string>{agent_key});
    EXPECT_EQ(snapshot.at("signed").at("version").get<std::int64_t>(), snapshot_version + 1);
    for (const std::string role : {"root", "targets", "targets/alice", "targets/releases"})
        EXPECT_TRUE(snapshot.at("signed").at("meta").contains(role)) << role;
    EXPECT_EQ(m_daemon.trustkey({"key", "public", agent_key}).exit_code, 0);
    expect_verified("v1");

    // Ordinary publishes now sign the snapshot in trustkeyd.
    sign("v2");
    snapshot = served("snapshot");
    EXPECT_EQ(signature_ids(snapshot), std::vector<std::string>{agent_key});
    EXPECT_EQ(snapshot.at("signed").at("version").get<std::int64_t>(), snapshot_version + 2);
    expect_verified("v2");
    expect_verified("v1");
    EXPECT_NE(notary({"list", kGun, "--roles", "targets/releases"}).find("v2"), std::string::npos);
    EXPECT_NE(notary({"delegation", "list", kGun}).find("targets/alice"), std::string::npos);

    // Another agent key, named with --key: the snapshot is re-signed with it in the same upload.
    const ProcessResult generated = m_daemon.trustkey({"key", "generate", "team-snapshot"});
    ASSERT_EQ(generated.exit_code, 0) << describe(generated);
    const std::string second_key = rotate({"snapshot", "--key", "team-snapshot"});
    ASSERT_EQ(second_key + "\n", generated.out);
    EXPECT_NE(second_key, agent_key);
    EXPECT_EQ(signature_ids(served("snapshot")), std::vector<std::string>{second_key});
    expect_verified("v2");

    // Back to the server, which makes the snapshots again.
    const std::string back = rotate({"snapshot", "--server-managed"});
    ASSERT_EQ(back.size(), 64u);
    EXPECT_NE(back, second_key);
    EXPECT_EQ(role_key(served("root"), "snapshot"), back);
    EXPECT_EQ(signature_ids(served("snapshot")), std::vector<std::string>{back});
    expect_verified("v2");
    sign("v3");
    EXPECT_EQ(signature_ids(served("snapshot")), std::vector<std::string>{back});
    expect_verified("v3");
}

TEST_F(KeyRotationTest, RootRotationFollowedByCachedClients) {
    sign("v1");
    // Both clients trust the first root before the rotation.
    const auto notary_cache = m_work / "notary-cached";
    EXPECT_TRUE(listed_in(notary_cache, "v1"));
    expect_verified("v1");
    const nlohmann::json inspected = docker_inspect();
    const nlohmann::json old_root = served("root");
    const std::string old_root_id = role_key(old_root, "root");
    ASSERT_EQ(old_root_id.size(), 64u);
    const std::int64_t old_version = old_root.at("signed").at("version").get<std::int64_t>();
    ASSERT_EQ(cached_root_version(m_work / "docker" / "trust"), old_version);
    ASSERT_EQ(cached_root_version(notary_cache), old_version);
    ASSERT_EQ(cached_root_version(m_trust_dir), old_version);

    ProcessResult out;
    const std::string new_root_id = rotate({"root"}, &out);
    ASSERT_EQ(new_root_id.size(), 64u);
    EXPECT_NE(new_root_id, old_root_id);
    const nlohmann::json root = served("root");
    EXPECT_EQ(root.at("signed").at("version").get<std::int64_t>(),
              old_root.at("signed").at("version").get<std::int64_t>() + 1);
    EXPECT_EQ(role_key(root, "root"), new_root_id);
    EXPECT_FALSE(root.at("signed").at("keys").contains(old_root_id));
    EXPECT_EQ(root.at("signed").at("keys").at(new_root_id).at("keytype"), "ecdsa-x509");
    // Signed by the old root key (for clients that trust it) and by the new one.
    std::vector<std::string> sigs = signature_ids(root);
    std::sort(sigs.begin(), sigs.end());
    std::vector<std::string> both{old_root_id, new_root_id};
    std::sort(both.begin(), both.end());
    EXPECT_EQ(sigs, both);

    // The old root key stays on the token and the output names it.
    const auto kept = out.out.find("The previous root key ");
    ASSERT_NE(kept, std::string::npos) << out.out;
    const std::string old_agent_key = out.out.substr(kept + 22, 64);
    EXPECT_NE(out.out.find("trustkey key delete " + old_agent_key), std::string::npos) << out.out;
    EXPECT_EQ(m_daemon.trustkey({"key", "public", old_agent_key}).exit_code, 0);

    // Clients holding the old root walk to the new one; new clients trust it directly.
    EXPECT_TRUE(listed_in(notary_cache, "v1"));
    expect_verified("v1");
    EXPECT_EQ(cached_root_version(notary_cache), old_version + 1);
    EXPECT_EQ(cached_root_version(m_trust_dir), old_version + 1);
    // docker, whose cache also holds the old root, shows the same tag and the new root key.
    const nlohmann::json reinspected = docker_inspect();
    ASSERT_TRUE(reinspected.is_array() && reinspected.size() == 1) << reinspected.dump();
    EXPECT_EQ(reinspected[0].at("SignedTags"), inspected.at(0).at("SignedTags"));
    EXPECT_NE(reinspected[0].at("AdministrativeKeys"), inspected.at(0).at("AdministrativeKeys"));
    EXPECT_NE(reinspected.dump().find(new_root_id), std::string::npos) << reinspected.dump();
    EXPECT_EQ(reinspected.dump().find(old_root_id), std::string::npos) << reinspected.dump();
    EXPECT_EQ(cached_root_version(m_work / "docker" / "trust"), old_version + 1);

    // Publishing goes on, and a later rotation is followed from the same caches.
    sign("v2");
    EXPECT_TRUE(listed_in(notary_cache, "v2"));
    expect_verified("v2");

    // Back to the first key (kept on the token) with a new certificate.
    ProcessResult back_out;
    const std::string back = rotate({"root", "--key", old_agent_key}, &back_out);
    ASSERT_EQ(back.size(), 64u);
    EXPECT_NE(back, new_root_id);
    EXPECT_NE(back, old_root_id);
    EXPECT_NE(back_out.out.find("The previous root key "), std::string::npos) << back_out.out;
    EXPECT_TRUE(listed_in(notary_cache, "v2"));
    expect_verified("v2");
    // Certificate renewal: the same key again gets a new certificate (a new x509 id) and
    // leaves no previous key behind.
    ProcessResult renew_out;
    const std::string renewed = rotate({"root", "--key", old_agent_key}, &renew_out);
    ASSERT_EQ(renewed.size(), 64u);
    EXPECT_NE(renewed, back);
    EXPECT_EQ(renew_out.out.find("The previous root key "), std::string::npos) << renew_out.out;
    EXPECT_EQ(served("root").at("signed").at("version").get<std::int64_t>(), old_version + 3);
    EXPECT_TRUE(listed_in(notary_cache, "v1"));
    EXPECT_TRUE(listed_in(notary_cache, "v2"));
    expect_verified("v2");
    EXPECT_EQ(cached_root_version(notary_cache), old_version + 3);
    EXPECT_EQ(cached_root_version(m_trust_dir), old_version + 3);
}

TEST_F(KeyRotationTest, RootRotationWithAgentSnapshot) {
    sign("v1");
    const std::string snapshot_key = rotate({"snapshot"});
    ASSERT_EQ(snapshot_key.size(), 64u);
    const auto notary_cache = m_work / "notary-cached";
    EXPECT_TRUE(listed_in(notary_cache, "v1"));
    const std::string root_id = rotate({"root"});
    ASSERT_EQ(root_id.size(), 64u);
    // root changed, so the snapshot trustkeyd signs lists its new hash.
    EXPECT_EQ(signature_ids(served("snapshot")), std::vector<std::string>{snapshot_key});
    EXPECT_TRUE(listed_in(notary_cache, "v1"));
    expect_verified("v1");
    const std::string targets_key = rotate({"targets"});
    ASSERT_EQ(targets_key.size(), 64u);
    EXPECT_EQ(signature_ids(served("targets")), std::vector<std::string>{targets_key});
    expect_verified("v1");
}

TEST_F(KeyRotationTest, TargetsRotationRenewsExpiry) {
    sign("v1");
    // Re-sign targets.json to expire in 30 days, as an old publish would have left it.
    proto::Client agent = proto::Client::connect(m_daemon.socket_path().string());
    http::ClientOptions options;
    options.ca_file = m_notary.ca_cert_path();
    notary::NotaryClient server(m_notary.url(), kGun, options);
    const auto root_file = server.get_role("root");
    const auto targets_file = server.get_role("targets");
    ASSERT_TRUE(root_file && targets_file);
    const tuf::Root root = tuf::Root::from_json(tuf::Signed::parse(*root_file, "root").body());
    tuf::Targets targets = tuf::Targets::from_json(tuf::Signed::parse(*targets_file, "targets").body());
    targets.common.version += 1;
    targets.common.expires = tuf::expiry_after(std::chrono::hours(24 * 30));
    trust::AgentSigner signer(agent);
    tuf::Signed file("targets", targets.to_json());
    file.sign(signer.add_held(root.role_key_map("targets")), signer.function());
    server.publish({{"targets", file.to_file()}});
    const std::int64_t version = targets.common.version;
    const tuf::Expiry short_expiry = targets.common.expires;

    const std::string key = rotate({"targets"});
    ASSERT_EQ(key.size(), 64u);
    const nlohmann::json rotated = served("targets");
    EXPECT_EQ(signature_ids(rotated), std::vector<std::string>{key});
    EXPECT_EQ(rotated.at("signed").at("version").get<std::int64_t>(), version + 1);
    const tuf::Expiry renewed = tuf::parse_expiry(rotated.at("signed").at("expires").get<std::string>());
    EXPECT_GT(renewed - short_expiry, std::chrono::hours(24 * 365 * 2));
    expect_verified("v1");
}

TEST_F(KeyRotationTest, RefusalsChangeNothing) {
    sign("v1");
    const nlohmann::json before = served("root");
    EXPECT_EQ(trust({"key", "rotate", image(), "root", "--server-managed"}).exit_code, 2);
    EXPECT_EQ(trust({"key", "rotate", image(), "targets", "--server-managed"}).exit_code, 2);
    EXPECT_EQ(trust({"key", "rotate", image(), "timestamp"}).exit_code, 2);
    EXPECT_EQ(trust({"key", "rotate", image(), "snapshot", "--server-managed", "--key", "x"}).exit_code, 2);
    EXPECT_EQ(trust({"key", "rotate", image(), "targets/releases"}).exit_code, 2);

    const ProcessResult absent = trust({"key", "rotate", image(), "root", "--key", "no-such-key"});
    EXPECT_EQ(absent.exit_code, 1) << describe(absent);
    EXPECT_NE(absent.err.find("no-such-key"), std::string::npos) << absent.err;

    const ProcessResult rsa = m_daemon.trustkey({"key", "generate", "rsa-root", "--type", "rsa"});
    ASSERT_EQ(rsa.exit_code, 0) << describe(rsa);
    const ProcessResult not_ecdsa = trust({"key", "rotate", image(), "root", "--key", "rsa-root"});
    EXPECT_EQ(not_ecdsa.exit_code, 1) << describe(not_ecdsa);
    EXPECT_NE(not_ecdsa.err.find("not an ECDSA P-256 key"), std::string::npos) << not_ecdsa.err;

    const ProcessResult missing = trust({"key", "rotate", std::string(kGun) + "-none", "targets"});
    EXPECT_EQ(missing.exit_code, 1) << describe(missing);
    EXPECT_NE(missing.err.find(std::string(kGun) + "-none"), std::string::npos) << missing.err;

    // Without the root key trustkeyd cannot sign a new root: no key is made, nothing uploaded.
    const nlohmann::json& root_key = before.at("signed").at("keys").at(role_key(before, "root"));
    const std::string root_agent_key = tuf::Key::from_json(root_key).canonical_id();
    const ProcessResult del = m_daemon.trustkey({"key", "delete", root_agent_key, "--yes"});
    ASSERT_EQ(del.exit_code, 0) << describe(del);
    const auto key_count = [&] {
        const ProcessResult r = m_daemon.trustkey({"key", "list", "--json"});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        return nlohmann::json::parse(r.out, nullptr, false).size();
    };
    const std::size_t keys_before = key_count();
    for (const std::string role : {"targets", "snapshot", "root"}) {
        const ProcessResult r = trust({"key", "rotate", image(), role});
        EXPECT_EQ(r.exit_code, 1) << describe(r);
        EXPECT_NE(r.err.find("root keys"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(kGun), std::string::npos) << r.err;
    }
    EXPECT_EQ(key_count(), keys_before);
    EXPECT_EQ(served("root"), before);
    expect_verified("v1");
}

// The root key id notary and docker show (the id of the key holding the root certificate,
// which cannot be worked out from the key alone) names the trustkeyd key in every key verb,
// and `key list` shows it with the repository and role each key serves.
TEST_F(KeyRotationTest, RootCertificateIdsNameTheKeyInKeyVerbsAndKeyList) {
    sign("v1");
    const std::string root_id = role_key(served("root"), "root");
    ASSERT_EQ(root_id.size(), 64u);
    const std::string targets_id = role_key(served("root"), "targets");
    const ProcessResult inspected = trust({"inspect", "--pretty", image()});
    ASSERT_EQ(inspected.exit_code, 0) << describe(inspected);
    ASSERT_NE(inspected.out.find(root_id), std::string::npos) << inspected.out;

    // The id inspect prints, and a 7-digit prefix of it, in key public and sign.
    const ProcessResult pub = m_daemon.trustkey({"key", "public", root_id});
    ASSERT_EQ(pub.exit_code, 0) << describe(pub);
    EXPECT_EQ(m_daemon.trustkey({"key", "public", root_id.substr(0, 7)}).out, pub.out);
    const ProcessResult signed_digest = m_daemon.trustkey({"sign", root_id, "--digest", kDigestHex});
    EXPECT_EQ(signed_digest.exit_code, 0) << describe(signed_digest);

    // key list: the root key carries its certificate id and the repository's roles are recorded.
    const auto find_key = [](const nlohmann::json& keys, const std::string& id) {
        for (const auto& k : keys)
            for (const auto& known : k.at("ids"))
                if (known == id) return k;
        return nlohmann::json();
    };
    const nlohmann::json keys = nlohmann::json::parse(m_daemon.trustkey({"key", "list", "--json"}).out);
    const nlohmann::json root_key = find_key(keys, root_id);
    ASSERT_TRUE(root_key.is_object()) << keys.dump(2);
    EXPECT_EQ(root_key.at("certificate_ids"), nlohmann::json::array({root_id}));
    EXPECT_EQ(root_key.at("public_key_pem"), pub.out);
    EXPECT_EQ(root_key.at("uses"),
              nlohmann::json::parse(R"([{"repository":")" + std::string(kGun) + R"(","role":"root"}])"));
    const nlohmann::json targets_key = find_key(keys, targets_id);
    ASSERT_TRUE(targets_key.is_object()) << keys.dump(2);
    EXPECT_EQ(targets_key.at("uses"),
              nlohmann::json::parse(R"([{"repository":")" + std::string(kGun) + R"(","role":"targets"}])"));
    const std::string table = m_daemon.trustkey({"key", "list"}).out;
    EXPECT_NE(table.find(root_key.at("id").get<std::string>().substr(0, 12)), std::string::npos) << table;
    EXPECT_NE(table.find(root_id.substr(0, 12) + "  (certificate id)"), std::string::npos) << table;
    EXPECT_NE(table.find(std::string(kGun) + " root"), std::string::npos) << table;
    EXPECT_NE(table.find(std::string(kGun) + " targets"), std::string::npos) << table;

    // After a root rotation the new id printed works too, with its own certificate recorded.
    const std::string new_root_id = rotate({"root"});
    ASSERT_EQ(new_root_id.size(), 64u);
    const ProcessResult new_pub = m_daemon.trustkey({"key", "public", new_root_id});
    ASSERT_EQ(new_pub.exit_code, 0) << describe(new_pub);
    EXPECT_NE(new_pub.out, pub.out);
    EXPECT_EQ(m_daemon.trustkey({"sign", new_root_id.substr(0, 10), "--digest", kDigestHex}).exit_code, 0);
    const nlohmann::json after = nlohmann::json::parse(m_daemon.trustkey({"key", "list", "--json"}).out);
    const nlohmann::json new_key = find_key(after, new_root_id);
    ASSERT_TRUE(new_key.is_object()) << after.dump(2);
    EXPECT_EQ(new_key.at("uses"), root_key.at("uses"));
    // The old key is still named by its old certificate's id.
    EXPECT_EQ(m_daemon.trustkey({"key", "public", root_id}).out, pub.out);
    // Renewing the certificate of the same key gives that key a second certificate id.
    const std::string renewed = rotate({"root", "--key", new_root_id});
    ASSERT_EQ(renewed.size(), 64u);
    EXPECT_EQ(m_daemon.trustkey({"key", "public", renewed}).out, new_pub.out);
    const nlohmann::json renewed_key =
        find_key(nlohmann::json::parse(m_daemon.trustkey({"key", "list", "--json"}).out), renewed);
    ASSERT_TRUE(renewed_key.is_object());
    std::vector<std::string> cert_ids = renewed_key.at("certificate_ids").get<std::vector<std::string>>();
    std::sort(cert_ids.begin(), cert_ids.end());
    std::vector<std::string> expected_ids{new_root_id, renewed};
    std::sort(expected_ids.begin(), expected_ids.end());
    EXPECT_EQ(cert_ids, expected_ids);

    // A signer key made by `trust key generate` serves the signer's delegation role.
    const ProcessResult gen = trust({"key", "generate", "bob", "--dir", m_work.path().string()});
    ASSERT_EQ(gen.exit_code, 0) << describe(gen);
    bool found = false;
    for (const auto& k : nlohmann::json::parse(m_daemon.trustkey({"key", "list", "--json"}).out)) {
        if (k.at("name") != "bob") continue;
        found = true;
        EXPECT_EQ(k.at("uses"), nlohmann::json::parse(R"([{"repository":"","role":"targets/bob"}])"));
    }
    EXPECT_TRUE(found);
    EXPECT_NE(m_daemon.trustkey({"key", "list"}).out.find("targets/bob"), std::string::npos);
}

} // namespace
} // namespace trustkey::test
