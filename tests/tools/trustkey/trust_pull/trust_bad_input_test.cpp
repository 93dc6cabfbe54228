// Bad input at the CLI: the real trustkey binary against the real notary-server (and
// registry) with a tampering proxy in front of them (tests/fixtures/tampering_proxy.h),
// so `trust verify`, `trust inspect` and `trust sign` meet bad data and error answers
// coming from a server. Each case must give exit 1, one stderr line naming the role,
// key or URL, nothing on stdout, and leave the trust directory's cache (compared file
// by file) and the server as they were.
//
// Also at the CLI elsewhere: server down for sign (TrustVerbsTest.ServerDownNamesUrl), a
// registry 404 (TrustVerbsTest.TagMissingFromRegistryFails), a signer key trustkeyd does not
// hold (TrustVerbsTest.SignerKeyNotInAgentFails), and a publish without the snapshot key
// (TrustInteropTest.TrustkeyReadsAndSignsIntoANotaryRepository).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/registry_server.h"
#include "tests/fixtures/tampering_proxy.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using Action = TamperRule::Action;

constexpr const char* kGun = "example.com/app";
constexpr const char* kOtherGun = "example.com/other";
constexpr const char* kReleases = "targets/releases";
// Past the server's 14-day timestamp expiry, before the fixtures' 30-day TLS certificates end.
constexpr const char* kAfterTimestampExpiry = "+20 days";

std::string describe(const ProcessResult& r) {
    return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// Every file and directory under `dir` (relative path -> bytes; directories end in '/').
std::map<std::string, std::string> tree(const fs::path& dir) {
    std::map<std::string, std::string> out;
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string name = fs::relative(e.path(), dir).string();
        if (e.is_directory())
            out[name + "/"] = {};
        else
            out[name] = read_file(e.path());
    }
    return out;
}

// A refusal as the CLI must give it: exit 1, one line on stderr holding each of
// `words`, and on stdout nothing (`inspect`, as docker, still prints the JSON list of
// the repositories it could read: none).
void expect_refused(const ProcessResult& r, const std::vector<std::string>& words, const std::string& out = {}) {
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_EQ(r.out, out) << describe(r);
    EXPECT_EQ(r.err_lines(), 1u) << describe(r);
    for (const auto& w : words) EXPECT_NE(r.err.find(w), std::string::npos) << "\"" << w << "\" in:\n" << r.err;
}

class TrustBadInputTest : public ::testing::Test {
protected:
    void notary(const std::vector<std::string>& args) {
        ProcessResult r = m_server.run_notary(m_publisher, args);
        std::string line = "notary";
        for (const auto& a : args) line += " " + a;
        ASSERT_EQ(r.exit_code, 0) << line << "\n" << describe(r) << m_server.log_tail(10);
    }

    fs::path payload(const std::string& name, const std::string& content) {
        const fs::path p = m_work / name;
        write_file(p, content);
        return p;
    }

    // targets: v1; targets/releases (key imported into the publisher's notary dir): v2.
    void make_repository() {
        notary({"init", kGun});
        notary({"add", kGun, "v1", payload("v1", "first\n").string()});
        notary({"publish", kGun});
        make_self_signed_ec_cert(m_work / "releases.key", m_work / "releases.crt", "releases", 3650);
        notary({"delegation", "add", kGun, kReleases, (m_work / "releases.crt").string(), "--all-paths"});
        notary({"publish", kGun});
        notary({"key", "import", (m_work / "releases.key").string(), "--role", kReleases});
        notary({"add", kGun, "v2", payload("v2", "second\n").string(), "--roles", kReleases});
        notary({"publish", kGun});
    }

    void make_other_repository() {
        notary({"init", kOtherGun});
        notary({"add", kOtherGun, "v1", payload("other", "another repository\n").string()});
        notary({"publish", kOtherGun});
    }

    // A new tag in targets/releases: from now on a successful update would change the cache.
    void publish_more() {
        notary({"add", kGun, "v3", payload("v3", "third\n").string(), "--roles", kReleases});
        notary({"publish", kGun});
    }

    // `trustkey trust` through the proxy (or `server`), trusting `ca`, with m_trust_dir;
    // `prefix` runs before the binary (faketime), with `env` added.
    ProcessResult trustkey(const std::vector<std::string>& args, const std::string& server = {},
                           const fs::path& ca = {}, const std::vector<std::string>& prefix = {},
                           const std::vector<std::string>& env = {}) const {
        std::vector<std::string> argv = prefix;
        argv.insert(argv.end(), {TRUSTKEY_CLI_PATH, "trust", "--server", server.empty() ? m_proxy.url() : server,
                                 "--tlscacert", ca.empty() ? m_proxy.ca_cert_path().string() : ca.string(),
                                 "--trust-dir", m_trust_dir.string()});
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions o;
        o.env = {"DOCKER_CONFIG=" + (m_work / "docker").string(), "HOME=" + m_work.path().string()};
        o.env.insert(o.env.end(), env.begin(), env.end());
        o.unset = {"DOCKER_CONTENT_TRUST_SERVER", "TRUSTKEY_SOCK"};
        return run_process(argv, o);
    }

    // A verified pull into the cache, with the proxy forwarding everything.
    void prime_cache() {
        m_proxy.clear_rules();
        ProcessResult ok = trustkey({"verify", std::string(kGun) + ":v2"});
        ASSERT_EQ(ok.exit_code, 0) << describe(ok) << m_proxy.log_tail(10);
        ASSERT_TRUE(fs::exists(m_trust_dir / "tuf" / kGun / "metadata" / "timestamp.json"));
    }

    // Runs `args` with `rules` set, expects a refusal holding `words`, and that the
    // proxy changed at least one answer and the trust directory stayed as it was.
    ProcessResult refused_with(const std::vector<TamperRule>& rules, const std::vector<std::string>& args,
                               const std::vector<std::string>& words) {
        const auto before = tree(m_trust_dir);
        const std::size_t tampered = m_proxy.tampered_requests();
        m_proxy.set_rules(rules);
        ProcessResult r = trustkey(args);
        m_proxy.clear_rules();
        expect_refused(r, words, args.front() == "inspect" ? "[]\n" : "");
        EXPECT_GT(m_proxy.tampered_requests(), tampered) << m_proxy.log_tail(10);
        EXPECT_EQ(tree(m_trust_dir), before) << "the trust directory changed";
        return r;
    }

    std::string server_file(const std::string& gun, const std::string& role) const {
        const ProcessResult r = m_server.https_get("/v2/" + gun + "/_trust/tuf/" + role + ".json");
        return r.exit_code == 0 ? r.out : std::string("absent");
    }

    NotaryServer m_server;
    TamperingProxy m_proxy{{m_server.url(), m_server.ca_cert_path()}};
    TempDir m_work{"trustkey-trust-bad-input"};
    fs::path m_publisher = m_work / "publisher";
    fs::path m_trust_dir = m_work / "trust";
    const std::string m_verify_v3 = std::string(kGun) + ":v3";
};

TEST_F(TrustBadInputTest, TamperedSignature) {
    make_repository();
    // First use: the root's own signature is what vouches for it.
    TamperRule root{.role = "root", .action = Action::flip_signature};
    refused_with({root}, {"verify", std::string(kGun) + ":v2"}, {kGun, "root", "signature"});
    EXPECT_FALSE(fs::exists(m_trust_dir / "tuf" / kGun));

    prime_cache();
    publish_more();
    TamperRule ts{.role = "timestamp", .action = Action::flip_signature};
    refused_with({ts}, {"verify", m_verify_v3}, {kGun, "timestamp", "signature threshold not met: 0 of 1"});
    refused_with({ts}, {"inspect", kGun}, {kGun, "timestamp", "signature"});
}

TEST_F(TrustBadInputTest, WrongHashOrLength) {
    make_repository();
    prime_cache();
    publish_more();
    // The new targets/releases with its tag renamed (same length): the snapshot's hash differs.
    TamperRule renamed{.role = kReleases, .action = Action::replace, .from = "\"v3\"", .to = "\"v9\""};
    refused_with({renamed}, {"verify", m_verify_v3}, {kGun, kReleases, "sha256", "differs from", "listed in snapshot"});
    // The new snapshot with a byte more: the timestamp's length differs.
    TamperRule longer{.role = "snapshot", .action = Action::append, .text = " "};
    refused_with({longer}, {"verify", m_verify_v3}, {kGun, "snapshot", "length"});
}

TEST_F(TrustBadInputTest, ExpiredTimestamp) {
    make_repository();
    prime_cache();
    publish_more();
    // The CLI's clock runs 20 days ahead: the server's timestamp (14 days) has expired.
    const auto before = tree(m_trust_dir);
    // faketime preloads its library, which AddressSanitizer (scripts/test-sanitize.sh) refuses
    // unless told that its runtime need not come first.
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string asan_options = std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") +
                                     "verify_asan_link_order=0";
    ProcessResult r = trustkey({"verify", m_verify_v3}, {}, {}, {"faketime", kAfterTimestampExpiry}, {asan_options});
    expect_refused(r, {kGun, "timestamp", "expired"});
    EXPECT_EQ(tree(m_trust_dir), before);
}

TEST_F(TrustBadInputTest, VersionRollback) {
    make_repository();
    prime_cache();
    publish_more();
    // The server answers with the first timestamp it signed, older than the cached one.
    TamperRule old{.role = "timestamp", .action = Action::from_version, .version = 1};
    refused_with({old}, {"verify", m_verify_v3}, {kGun, "timestamp", "rollback"});
}

TEST_F(TrustBadInputTest, RootOfAnotherRepository) {
    make_repository();
    make_other_repository();
    TamperRule other{.role = "root", .action = Action::from_gun, .gun = kOtherGun};
    refused_with({other}, {"verify", std::string(kGun) + ":v2"}, {kGun, "root", kOtherGun});
    refused_with({other}, {"inspect", kGun}, {kGun, "root"});
    EXPECT_FALSE(fs::exists(m_trust_dir / "tuf" / kGun));
}

TEST_F(TrustBadInputTest, ThresholdNotMet) {
    make_repository();
    make_other_repository();
    prime_cache();
    publish_more();
    // Another repository's timestamp: signed, but not by this repository's timestamp key.
    TamperRule other{.role = "timestamp", .action = Action::from_gun, .gun = kOtherGun};
    refused_with({other}, {"verify", m_verify_v3}, {kGun, "timestamp", "signature threshold not met: 0 of 1"});
}

TEST_F(TrustBadInputTest, MalformedJson) {
    make_repository();
    prime_cache();
    publish_more();
    TamperRule cut{.role = "timestamp", .action = Action::truncate, .keep = 40};
    refused_with({cut}, {"verify", m_verify_v3}, {kGun, "timestamp"});
    TamperRule not_json{.role = "root", .action = Action::replace, .from = "{", .to = "["};
    m_trust_dir = m_work / "fresh";
    refused_with({not_json}, {"verify", m_verify_v3}, {kGun, "root"});
    EXPECT_FALSE(fs::exists(m_trust_dir / "tuf" / kGun));
}

TEST_F(TrustBadInputTest, NotaryServerErrorStatus) {
    make_repository();
    prime_cache();
    publish_more();
    TamperRule fails{.role = "timestamp", .action = Action::status, .status = 500};
    const ProcessResult r = refused_with({fails}, {"verify", m_verify_v3}, {kGun, m_proxy.url(), "failed with server error 500", "its signer or storage back end may be down"});
    EXPECT_EQ(r.err.find("cannot reach"), std::string::npos) << r.err;  // it was reached, and answered
    TamperRule forbidden{.role = "root", .action = Action::status, .status = 403};
    refused_with({forbidden}, {"verify", m_verify_v3}, {kGun, m_proxy.url(), "HTTP 403"});
    TamperRule missing{.role = "snapshot", .action = Action::status, .status = 404};
    refused_with({missing}, {"verify", m_verify_v3}, {kGun, "snapshot"});
}

TEST_F(TrustBadInputTest, ServerDownLeavesTheCache) {
    make_repository();
    prime_cache();
    publish_more();
    // Port 1 on loopback: nothing listens there.
    const std::string down = "https://127.0.0.1:1";
    const auto before = tree(m_trust_dir);
    expect_refused(trustkey({"verify", m_verify_v3}, down, m_server.ca_cert_path()),
                   {kGun, "cannot reach the trust server " + down});
    expect_refused(trustkey({"inspect", kGun}, down, m_server.ca_cert_path()), {kGun, down}, "[]\n");
    EXPECT_EQ(tree(m_trust_dir), before);
}

TEST_F(TrustBadInputTest, TlsFailureWithWrongCa) {
    make_repository();
    // The real server, but trusting only the proxy's CA.
    ProcessResult r = trustkey({"verify", std::string(kGun) + ":v2"}, m_server.url(), m_proxy.ca_cert_path());
    expect_refused(r, {kGun, m_server.url()});
    EXPECT_FALSE(fs::exists(m_trust_dir / "tuf" / kGun));
}

// The repository's owner (holding the snapshot key, as `notary init` leaves it) publishes
// a snapshot that lists a delegation no targets file delegates; the server accepts it
// and signs a timestamp for it, so the snapshot and timestamp verify, and only the
// delegation check can refuse it.
TEST_F(TrustBadInputTest, UnknownDelegation) {
    make_repository();
    prime_cache();

    // The snapshot key from the notary client's directory, onto a token (PEM headers kept).
    const std::string snapshot_id = [&] {
        const auto root = nlohmann::json::parse(server_file(kGun, "root"));
        return root["signed"]["roles"]["snapshot"]["keyids"][0].get<std::string>();
    }();
    fs::path key_file;
    for (const auto& e : fs::recursive_directory_iterator(m_publisher / "private"))
        if (e.is_regular_file() && read_file(e.path()).find("role: snapshot\n") != std::string::npos) key_file = e.path();
    ASSERT_FALSE(key_file.empty()) << "no snapshot key under " << (m_publisher / "private");
    CliDaemon daemon;
    ProcessOptions passphrase;
    passphrase.env = {std::string("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=") + NotaryServer::kPassphrase};
    ProcessResult load = daemon.trustkey({"trust", "key", "load", key_file.string(), "--name", "owner-snapshot"},
                                         passphrase);
    ASSERT_EQ(load.exit_code, 0) << describe(load);

    // snapshot version + 1, listing "targets/ghost" too, signed by that key.
    auto snapshot = nlohmann::json::parse(server_file(kGun, "snapshot"));
    nlohmann::json body = snapshot["signed"];
    const std::string ghost = "a delegation nobody made\n";
    body["version"] = body["version"].get<std::int64_t>() + 1;
    body["meta"]["targets/ghost"] = {{"length", ghost.size()},
                                     {"hashes", {{"sha256", to_base64(sha256(as_bytes(ghost)))}}}};
    const std::string canonical = body.dump(); // sorted keys, no spaces, ASCII only: canonical JSON
    const fs::path signed_path = m_work / "snapshot.signed";
    write_file(signed_path, canonical);
    ProcessResult sig = daemon.trustkey({"sign", "owner-snapshot", "--file", signed_path.string()});
    ASSERT_EQ(sig.exit_code, 0) << describe(sig);
    std::string b64 = sig.out;
    while (!b64.empty() && (b64.back() == '\n' || b64.back() == '\r')) b64.pop_back();
    const std::string file = "{\"signed\":" + canonical + ",\"signatures\":[{\"keyid\":\"" + snapshot_id +
                             "\",\"method\":\"ecdsa\",\"sig\":\"" + b64 + "\"}]}";
    const fs::path upload = m_work / "snapshot.json";
    write_file(upload, file);
    ProcessResult post = run_process({"curl", "--silent", "--show-error", "--fail-with-body", "--noproxy", "*",
                                      "--cacert", m_server.ca_cert_path().string(), "-F",
                                      "files=@" + upload.string() + ";filename=snapshot",
                                      m_server.url() + "/v2/" + kGun + "/_trust/tuf/"});
    ASSERT_EQ(post.exit_code, 0) << describe(post) << m_server.log_tail(5);
    ASSERT_EQ(server_file(kGun, "snapshot"), file);

    // A file the snapshot lists but no verified role delegates is never read, as the notary
    // client does (the server's own snapshots keep listing the files of removed signers):
    // the pull shows nothing of it, and nothing signed only there is trusted.
    ProcessResult inspect = trustkey({"inspect", kGun});
    ASSERT_EQ(inspect.exit_code, 0) << describe(inspect);
    EXPECT_EQ(inspect.out.find("ghost"), std::string::npos) << inspect.out;
    EXPECT_FALSE(fs::exists(m_trust_dir / "tuf" / kGun / "metadata" / "targets" / "ghost.json"));
    expect_refused(trustkey({"verify", m_verify_v3}), {kGun, "v3", "no trusted signature"});

    // Naming the unknown delegation in a change: one line naming it, nothing changes.
    const auto before = tree(m_trust_dir);
    const std::string targets = server_file(kGun, "targets");
    ProcessOptions o;
    o.env = {"DOCKER_CONFIG=" + (m_work / "docker").string(), "HOME=" + m_work.path().string()};
    o.unset = {"DOCKER_CONTENT_TRUST_SERVER"};
    ProcessResult remove = daemon.trustkey({"trust", "--server", m_proxy.url(), "--tlscacert",
                                            m_proxy.ca_cert_path().string(), "--trust-dir", m_trust_dir.string(),
                                            "signer", "remove", "--force", "ghost", kGun},
                                           o);
    EXPECT_EQ(remove.exit_code, 1) << describe(remove);
    EXPECT_EQ(remove.err_lines(), 1u) << describe(remove);
    EXPECT_NE(remove.err.find("targets/ghost"), std::string::npos) << describe(remove);
    EXPECT_NE(remove.err.find(kGun), std::string::npos) << describe(remove);
    EXPECT_EQ(tree(m_trust_dir), before) << "the trust directory changed";
    EXPECT_EQ(server_file(kGun, "targets"), targets);
}

// `trust sign` into the notary-made repository: the server's state must not change.
TEST_F(TrustBadInputTest, SignFailuresLeaveTheServerAsItWas) {
    make_repository();
    // A delegate can publish only when the server manages the snapshot key.
    notary({"key", "rotate", kGun, "snapshot", "-r"});
    CliDaemon daemon;
    const std::vector<std::string> sign{"sign", m_verify_v3, "--digest", "sha256:" + std::string(64, 'c'), "--size",
                                        "3"};
    const auto run = [&](const std::vector<std::string>& args, const std::string& socket) {
        std::vector<std::string> full{"--socket", socket, "trust", "--server", m_proxy.url(), "--tlscacert",
                                      m_proxy.ca_cert_path().string(), "--trust-dir", m_trust_dir.string()};
        full.insert(full.end(), args.begin(), args.end());
        ProcessOptions o;
        o.env = {"DOCKER_CONFIG=" + (m_work / "docker").string(), "HOME=" + m_work.path().string()};
        o.unset = {"DOCKER_CONTENT_TRUST_SERVER"};
        return run_trustkey(full, o);
    };
    const std::string timestamp = server_file(kGun, "timestamp");
    const std::string releases = server_file(kGun, kReleases);
    ASSERT_NE(releases, "absent");
    const auto server_unchanged = [&] {
        EXPECT_EQ(server_file(kGun, "timestamp"), timestamp);
        EXPECT_EQ(server_file(kGun, kReleases), releases);
    };

    // Agent not running: the socket named.
    const std::string no_agent = (m_work / "no-agent.sock").string();
    expect_refused(run(sign, no_agent), {no_agent});
    server_unchanged();

    // Key not found: trustkeyd holds no key of targets/releases (nor of targets).
    expect_refused(run(sign, daemon.socket_path().string()), {"trustkeyd holds no key", kReleases, "\"v3\""});
    server_unchanged();

    // With the key on the token, the server refuses the publish or fails to answer.
    fs::permissions(m_work / "releases.key", fs::perms::owner_read | fs::perms::owner_write);
    ProcessResult load = run({"key", "load", (m_work / "releases.key").string(), "--name", "releases-key"},
                             daemon.socket_path().string());
    ASSERT_EQ(load.exit_code, 0) << describe(load);
    for (int status : {500, 403, 400}) {
        SCOPED_TRACE(status);
        m_proxy.set_rules({TamperRule{.method = "POST", .action = Action::status, .status = status}});
        expect_refused(run(sign, daemon.socket_path().string()), {m_proxy.url(), std::to_string(status)});
        server_unchanged();
    }
    m_proxy.set_rules({TamperRule{.role = "root", .action = Action::status, .status = 503}});
    expect_refused(run(sign, daemon.socket_path().string()), {m_proxy.url(), "503"});
    server_unchanged();
    EXPECT_GE(m_proxy.tampered_requests(), 4u);

    // And with nothing in the way it goes through: the failures above were the proxy's.
    m_proxy.clear_rules();
    ProcessResult ok = run(sign, daemon.socket_path().string());
    EXPECT_EQ(ok.exit_code, 0) << describe(ok);
    EXPECT_NE(server_file(kGun, kReleases), releases);
}

// `trust sign` without --digest asks the registry: its errors name the URL, and
// nothing reaches the notary server.
TEST_F(TrustBadInputTest, RegistryErrorStatus) {
    RegistryServer registry;
    TamperingProxy registry_proxy{{registry.url(), {}, false}};
    const std::string repo = registry_proxy.host() + "/team/app";
    registry.push_image("team/app", "v1");
    CliDaemon daemon;
    const auto sign = [&](const std::string& insecure, const std::string& image) {
        ProcessOptions o;
        o.env = {"DOCKER_CONFIG=" + (m_work / "docker").string(), "HOME=" + m_work.path().string()};
        o.unset = {"DOCKER_CONTENT_TRUST_SERVER"};
        return daemon.trustkey({"trust", "--server", m_server.url(), "--tlscacert", m_server.ca_cert_path().string(),
                                "--insecure-registry", insecure, "--trust-dir", m_trust_dir.string(), "sign", image},
                               o);
    };
    for (int status : {500, 502, 403}) {
        SCOPED_TRACE(status);
        registry_proxy.set_rules({TamperRule{.path = "/manifests/", .action = Action::status, .status = status}});
        expect_refused(sign(registry_proxy.host(), repo + ":v1"), {repo + ":v1", "HTTP " + std::to_string(status)});
        EXPECT_EQ(server_file(repo, "root"), "absent");
    }
    EXPECT_GE(registry_proxy.tampered_requests(), 3u);

    // A registry that wants credentials the docker config does not have: 401.
    RegistryServer locked{{.basic_auth = RegistryBasicAuth{"ci", "registry-secret-1"}}};
    locked.push_image("team/app", "v1");
    ProcessResult unauthorized = sign(locked.host(), locked.host() + "/team/app:v1");
    expect_refused(unauthorized, {locked.host() + "/team/app:v1", "HTTP 401", "no credentials"});
    EXPECT_EQ(server_file(locked.host() + "/team/app", "root"), "absent");
}

} // namespace
} // namespace trustkey::test
