// Updater against the real notary-server, with repositories made by the real notary
// CLI: first use, updates after new publishes and root rotations, refusals on data
// taken from the server and changed, and a cache left untouched by a failed update.
#include "tools/trust/client/updater.h"
#include "tests/fixtures/expect_error.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/temp_dir.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using notary::NotaryClient;
using trust::ChainVerifier;
using trust::TrustData;
using trust::Updater;

constexpr const char* kGun = "example.com/app";

using test::expect_error;

// Every file under `dir`, relative path -> bytes.
std::map<std::string, std::string> snapshot_dir(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        out[fs::relative(e.path(), dir).string()] = std::string(std::istreambuf_iterator<char>(in), {});
    }
    return out;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

class UpdaterTest : public ::testing::Test {
protected:
    void notary(const std::vector<std::string>& args) {
        ProcessResult r = m_server.run_notary(m_publisher, args);
        std::string line = "notary";
        for (const auto& a : args) line += " " + a;
        ASSERT_EQ(r.exit_code, 0) << line << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err << "\n"
                                  << m_server.log_tail(10);
    }

    // `notary key rotate GUN root` asks for a "yes" on stdin, which run_notary() does not
    // give, so the CLI runs here with the same arguments and environment.
    void rotate_root() {
        const fs::path config = write_payload("notary-client.json", "{}");
        ProcessOptions options;
        options.stdin_data = "yes\n";
        options.timeout = NotaryServer::kCliTimeout;
        for (const char* role : {"ROOT", "TARGETS", "SNAPSHOT", "DELEGATION"})
            options.env.push_back(std::string("NOTARY_") + role + "_PASSPHRASE=" + NotaryServer::kPassphrase);
        ProcessResult r = run_process({"notary", "-c", config.string(), "-s", m_server.url(), "-d", m_publisher.string(),
                                       "--tlscacert", m_server.ca_cert_path().string(), "key", "rotate", kGun, "root"},
                                      options);
        ASSERT_EQ(r.exit_code, 0) << "notary key rotate: " << r.out << r.err;
        ASSERT_EQ(r.out.find("Aborting"), std::string::npos) << r.out;
    }

    fs::path write_payload(const std::string& name, const std::string& content) {
        const fs::path p = m_work / name;
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }

    NotaryClient client(const std::string& gun = kGun) {
        http::ClientOptions options;
        options.ca_file = m_server.ca_cert_path();
        options.timeout = std::chrono::seconds(30);
        return NotaryClient(m_server.url(), gun, options);
    }

    // init + "v1" in targets + publish; then targets/releases with "v2" and its own "v1".
    void make_repository() {
        const fs::path first = write_payload("v1.bin", m_v1);
        notary({"init", kGun});
        notary({"add", kGun, "v1", first.string()});
        notary({"publish", kGun});
        const fs::path key = m_work / "releases.key";
        const fs::path cert = m_work / "releases.crt";
        make_self_signed_ec_cert(key, cert, "releases", 3650);
        notary({"delegation", "add", kGun, "targets/releases", cert.string(), "--all-paths"});
        notary({"publish", kGun});
        notary({"key", "import", key.string(), "--role", "targets/releases"});
        notary({"add", kGun, "v2", write_payload("v2.bin", m_v2).string(), "--roles", "targets/releases"});
        notary({"add", kGun, "v1", write_payload("v1r.bin", m_v1_released).string(), "--roles", "targets/releases"});
        notary({"publish", kGun});
    }

    TrustData update() {
        NotaryClient c = client();
        return Updater(c, m_trust).update();
    }

    static void expect_target(const TrustData& data, const std::string& tag, const std::string& content,
                              const std::string& role) {
        auto found = data.lookup(tag);
        ASSERT_TRUE(found.has_value()) << tag;
        EXPECT_EQ(found->role, role) << tag;
        EXPECT_EQ(found->sha256_hex, to_hex(sha256(as_bytes(content)))) << tag;
        EXPECT_EQ(found->length, static_cast<std::int64_t>(content.size())) << tag;
    }

    fs::path cached(const std::string& role) const { return m_trust / "tuf" / kGun / "metadata" / (role + ".json"); }

    NotaryServer m_server;
    TempDir m_work{"trustkey-updater"};
    fs::path m_publisher = m_work / "publisher";
    fs::path m_trust = m_work / "trust";
    const std::string m_v1 = "first release\n";
    const std::string m_v1_released = "first release, signed by releases\n";
    const std::string m_v2 = "second release, a little longer\n";
};

TEST_F(UpdaterTest, FirstUseVerifiesAndFindsTags) {
    make_repository();
    TrustData data = update();
    expect_target(data, "v2", m_v2, "targets/releases");
    expect_target(data, "v1", m_v1_released, "targets/releases"); // releases wins over targets
    ASSERT_TRUE(data.find_in("targets", "v1").has_value());
    EXPECT_EQ(data.find_in("targets", "v1")->sha256_hex, to_hex(sha256(as_bytes(m_v1))));
    EXPECT_FALSE(data.lookup("v3").has_value());
    EXPECT_TRUE(data.delegations.contains("targets/releases"));

    // The cache holds exactly the bytes the server serves, in notary's layout.
    NotaryClient c = client();
    for (const std::string role : {"root", "timestamp", "snapshot", "targets", "targets/releases"}) {
        ASSERT_TRUE(fs::exists(cached(role))) << role;
        EXPECT_EQ(read_file(cached(role)), *c.get_role(role)) << role;
    }
    // The real notary CLI accepts the cache as its own and lists the same tags.
    ProcessResult listed = m_server.run_notary(m_trust, {"list", kGun});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    EXPECT_NE(listed.out.find("v2"), std::string::npos) << listed.out;
}

TEST_F(UpdaterTest, ExistingCacheFollowsNewPublish) {
    make_repository();
    TrustData before = update();
    const std::int64_t old_version = before.delegations.at("targets/releases").common.version;
    const std::string v3 = "third release\n";
    notary({"add", kGun, "v3", write_payload("v3.bin", v3).string(), "--roles", "targets/releases"});
    notary({"publish", kGun});

    TrustData after = update();
    expect_target(after, "v3", v3, "targets/releases");
    EXPECT_GT(after.delegations.at("targets/releases").common.version, old_version);
    EXPECT_GT(after.timestamp.common.version, before.timestamp.common.version);
    EXPECT_EQ(read_file(cached("targets/releases")), *client().get_role("targets/releases"));
}

TEST_F(UpdaterTest, RootRotationsAreWalkedOneVersionAtATime) {
    make_repository();
    TrustData before = update();
    ASSERT_EQ(before.root.common.version, 1);
    rotate_root();
    rotate_root();

    TrustData after = update();
    EXPECT_EQ(after.root.common.version, 3);
    EXPECT_NE(after.root.role("root").keyids, before.root.role("root").keyids);
    expect_target(after, "v2", m_v2, "targets/releases");
    EXPECT_EQ(read_file(cached("root")), *client().get_role("root"));

    // A fresh trust directory trusts version 3 directly.
    m_trust = m_work / "fresh";
    EXPECT_EQ(update().root.common.version, 3);
}

TEST_F(UpdaterTest, RollbackAgainstCacheFailsAndLeavesCacheUntouched) {
    make_repository();
    (void)update();
    // Edit the cached timestamp's version upward: what the server serves is now older.
    std::string ts = read_file(cached("timestamp"));
    const std::regex version_re("\"version\":([0-9]+)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(ts, m, version_re)) << ts;
    const std::string edited = std::regex_replace(ts, version_re, "\"version\":999", std::regex_constants::format_first_only);
    std::ofstream(cached("timestamp"), std::ios::binary | std::ios::trunc) << edited;
    // New data on the server, so a successful update would rewrite the cache.
    notary({"add", kGun, "v4", write_payload("v4.bin", "fourth\n").string(), "--roles", "targets/releases"});
    notary({"publish", kGun});

    const auto before = snapshot_dir(m_trust);
    Error e = expect_error([&] { (void)update(); });
    EXPECT_EQ(e.errc(), Errc::denied);
    EXPECT_EQ(e.code_name(), "rollback");
    EXPECT_NE(e.message().find("timestamp: rollback"), std::string::npos) << e.what();
    EXPECT_NE(e.message().find("cached version 999"), std::string::npos) << e.what();
    EXPECT_EQ(snapshot_dir(m_trust), before);
}

TEST_F(UpdaterTest, TamperedServerDataIsRefusedByTheChecks) {
    make_repository();
    NotaryClient c = client();
    ChainVerifier v(kGun);
    tuf::Root root = v.trusted_root(*c.get_role("root"));
    tuf::Timestamp ts = v.timestamp(root, *c.get_role("timestamp"), {});
    const std::string snap_bytes = *c.get_role("snapshot");
    tuf::Snapshot snap = v.snapshot(root, snap_bytes, ts, {});
    const std::string targets_bytes = *c.get_role("targets");
    tuf::Targets targets = v.targets(root, targets_bytes, snap, {});

    // A byte flipped in the signed body (the tag name "v1" -> "v9"), listed by a
    // snapshot that matches the changed bytes: only the signature can catch it.
    std::string flipped = targets_bytes;
    const auto at = flipped.find("\"v1\"");
    ASSERT_NE(at, std::string::npos) << flipped;
    flipped[at + 2] = '9';
    tuf::Snapshot vouching = snap;
    vouching.meta["targets"] = tuf::FileMeta::of(as_bytes(flipped));
    Error sig = expect_error([&] { (void)v.targets(root, flipped, vouching, {}); });
    EXPECT_EQ(sig.code_name(), "threshold");
    EXPECT_NE(sig.message().find("targets: signature threshold not met: 0 of 1"), std::string::npos) << sig.what();
    // With the real snapshot the changed file is caught by its hash first.
    EXPECT_EQ(expect_error([&] { (void)v.targets(root, flipped, snap, {}); }).code_name(), "hash_mismatch");

    // A wrong length in the snapshot's entry.
    tuf::Snapshot wrong_length = snap;
    wrong_length.meta["targets"].length += 7;
    Error len = expect_error([&] { (void)v.targets(root, targets_bytes, wrong_length, {}); });
    EXPECT_EQ(len.code_name(), "length_mismatch");
    EXPECT_NE(len.message().find("targets: length"), std::string::npos) << len.what();

    // A snapshot the timestamp does not name.
    tuf::Timestamp other_ts = ts;
    other_ts.meta["snapshot"].hashes["sha256"][5] ^= 0x20;
    EXPECT_EQ(expect_error([&] { (void)v.snapshot(root, snap_bytes, other_ts, {}); }).code_name(), "hash_mismatch");

    // Rollback of targets against a cached newer version.
    EXPECT_EQ(expect_error([&] { (void)v.targets(root, targets_bytes, snap, targets.common.version + 1); })
                  .code_name(),
              "rollback");

    // The delegation: signed by its key, refused when targets does not delegate it.
    const std::string releases = *c.get_role("targets/releases");
    EXPECT_NO_THROW((void)v.delegation(targets, "targets", "targets/releases", releases, snap, {}));
    tuf::Targets no_delegation = targets;
    no_delegation.delegations.roles.clear();
    Error unknown = expect_error(
        [&] { (void)v.delegation(no_delegation, "targets", "targets/releases", releases, snap, {}); });
    EXPECT_EQ(unknown.code_name(), "unknown_delegation");
    EXPECT_NE(unknown.message().find("targets/releases: not delegated by targets"), std::string::npos);

    // The real root for another GUN: its certificate's CN does not match.
    Error cn = expect_error([&] { (void)ChainVerifier("example.com/other").trusted_root(*c.get_role("root")); });
    EXPECT_EQ(cn.code_name(), "certificate");
    EXPECT_NE(cn.message().find("not for the GUN \"example.com/other\""), std::string::npos) << cn.what();
}

TEST_F(UpdaterTest, UnknownRepositoryAndUnreachableServer) {
    NotaryClient c = client("example.com/never");
    Error none = expect_error([&] { (void)Updater(c, m_trust).update(); });
    EXPECT_EQ(none.errc(), Errc::not_found);
    EXPECT_NE(none.message().find("example.com/never"), std::string::npos) << none.what();
    EXPECT_FALSE(fs::exists(m_trust / "tuf"));

    // Port 1 on loopback: nothing listens there, so the connection is refused.
    http::ClientOptions options;
    options.ca_file = m_server.ca_cert_path();
    options.connect_timeout = std::chrono::seconds(5);
    NotaryClient dead("https://127.0.0.1:1", kGun, options);
    Error io = expect_error([&] { (void)Updater(dead, m_trust).update(); });
    EXPECT_EQ(io.errc(), Errc::io);
    EXPECT_NE(io.message().find("cannot reach the trust server https://127.0.0.1:1"), std::string::npos)
        << io.what();
}

} // namespace
} // namespace trustkey::test
