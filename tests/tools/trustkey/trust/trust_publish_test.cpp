// `trustkey trust key generate | signer add | sign | revoke | signer remove` run as the
// real binary against a real trustkeyd, notary server and registry; the results are
// read back with the real notary CLI.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/registry_server.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {
namespace {

const std::string kDigestHex(64, 'a');

// Every file under `dir`, relative path -> bytes (empty when `dir` does not exist).
std::map<std::string, std::string> tree(const std::filesystem::path& dir) {
    std::map<std::string, std::string> out;
    if (!std::filesystem::exists(dir)) return out;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        out.emplace(std::filesystem::relative(entry.path(), dir).string(), bytes.str());
    }
    return out;
}

class TrustVerbsTest : public ::testing::Test {
protected:
    std::string image(const std::string& tag = {}) const {
        return m_registry.host() + "/team/app" + (tag.empty() ? "" : ":" + tag);
    }
    std::string gun() const { return image(); }

    // `trust` with the fixture's server, CA and registry, then `args`.
    std::vector<std::string> trust_args(const std::vector<std::string>& args, const std::string& server = {}) const {
        std::vector<std::string> full{"trust", "--server", server.empty() ? m_notary.url() : server, "--tlscacert",
                                      m_notary.ca_cert_path().string(), "--insecure-registry", m_registry.host()};
        full.insert(full.end(), args.begin(), args.end());
        return full;
    }

    ProcessResult trust(std::vector<std::string> args, const std::string& server = {}) const {
        ProcessOptions o;
        o.env.push_back("DOCKER_CONFIG=" + docker_config().string());
        o.unset.push_back("DOCKER_CONTENT_TRUST_SERVER");
        return m_daemon.trustkey(trust_args(args, server), o);
    }

    std::filesystem::path docker_config() const { return m_work / "docker"; }
    // The metadata cache of the repository in a trust directory.
    std::filesystem::path cache_of(const std::filesystem::path& trust_dir) const {
        return trust_dir / "tuf" / gun() / "metadata";
    }

    static std::string describe(const ProcessResult& r) {
        return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
    }

    // `notary args…` in a fresh trust directory; expects success.
    std::string notary(const std::vector<std::string>& args) {
        const ProcessResult r = m_notary.run_notary(m_work / ("notary-" + std::to_string(++m_runs)), args);
        EXPECT_EQ(r.exit_code, 0) << describe(r) << m_notary.log_tail(10);
        return r.out;
    }

    // The `notary list [--roles role]` line for `tag`, empty when it is not listed.
    std::string listed(const std::string& tag, const std::string& role = {}) {
        std::vector<std::string> args{"list", gun()};
        if (!role.empty()) args.insert(args.end(), {"--roles", role});
        std::istringstream lines(notary(args));
        for (std::string line; std::getline(lines, line);)
            if (line.rfind(tag + " ", 0) == 0) return line;
        return {};
    }

    void add_signer(const std::string& name) {
        ProcessResult gen = trust({"key", "generate", name, "--dir", m_work.path().string()});
        ASSERT_EQ(gen.exit_code, 0) << describe(gen);
        ProcessResult add = trust({"signer", "add", "--key", (m_work / (name + ".pub")).string(), name, image()});
        ASSERT_EQ(add.exit_code, 0) << describe(add);
        EXPECT_NE(add.out.find("Adding signer \"" + name + "\" to " + image() + "..."), std::string::npos) << add.out;
        EXPECT_NE(add.out.find("Successfully added signer: " + name + " to " + image()), std::string::npos) << add.out;
    }

    // `trustkey trust sign` processes started together, one per tag, into the same
    // repository and trust directory; each must exit 0 and its tag be listed.
    void sign_concurrently(const std::vector<std::string>& tags) {
        std::vector<std::unique_ptr<BackgroundProcess>> runs;
        for (const std::string& tag : tags) {
            std::vector<std::string> argv{trustkey_cli_path(), "--socket", m_daemon.socket_path().string()};
            const auto args = trust_args({"sign", image(tag), "--digest", "sha256:" + kDigestHex, "--size", "8"});
            argv.insert(argv.end(), args.begin(), args.end());
            BackgroundOptions o;
            o.env.push_back("DOCKER_CONFIG=" + docker_config().string());
            o.unset = {"DOCKER_CONTENT_TRUST_SERVER", "TRUSTKEY_SOCK"};
            o.log_file = m_work / (tag + ".log");
            runs.push_back(std::make_unique<BackgroundProcess>(argv, o));
        }
        for (std::size_t i = 0; i < runs.size(); ++i) {
            const int code = runs[i]->wait_exit(std::chrono::seconds(120));
            std::ifstream log(m_work / (tags[i] + ".log"));
            std::stringstream text;
            text << log.rdbuf();
            EXPECT_EQ(code, 0) << tags[i] << ":\n" << text.str();
        }
        for (const std::string& tag : tags) EXPECT_NE(listed(tag).find(kDigestHex), std::string::npos) << tag;
    }

    NotaryServer m_notary;
    RegistryServer m_registry;
    CliDaemon m_daemon;
    TempDir m_work{"trustkey-trust-verbs"};
    int m_runs = 0;
};

TEST_F(TrustVerbsTest, KeyGenerateWritesRolePublicKey) {
    ProcessResult r = trust({"key", "generate", "alice", "--dir", m_work.path().string()});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    std::ifstream in(m_work / "alice.pub");
    std::stringstream pem;
    pem << in.rdbuf();
    EXPECT_EQ(pem.str().rfind("-----BEGIN PUBLIC KEY-----\nrole: alice\n\n", 0), 0u) << pem.str();
    // The key is on the token under the signer's name.
    ProcessResult pub = m_daemon.trustkey({"key", "public", "alice"});
    ASSERT_EQ(pub.exit_code, 0) << describe(pub);
    EXPECT_NE(pem.str().find(pub.out.substr(pub.out.find('\n') + 1, 40)), std::string::npos);

    ProcessResult bad = trust({"key", "generate", "Bad.Name", "--dir", m_work.path().string()});
    EXPECT_EQ(bad.exit_code, 2) << describe(bad);
    EXPECT_NE(bad.err.find("Bad.Name"), std::string::npos) << bad.err;
}

TEST_F(TrustVerbsTest, SignRevokeAndRemoveSigner) {
    add_signer("alice");
    const std::string delegations = notary({"delegation", "list", gun()});
    EXPECT_NE(delegations.find("targets/alice"), std::string::npos) << delegations;
    EXPECT_NE(delegations.find("targets/releases"), std::string::npos) << delegations;
    // key list says what each key serves: the signer's key now in this repository, and the
    // root and targets keys the signer add made for it.
    const std::string keys = m_daemon.trustkey({"key", "list"}).out;
    EXPECT_NE(keys.find("targets/alice, " + gun() + " targets/alice"), std::string::npos) << keys;
    EXPECT_NE(keys.find(gun() + " root"), std::string::npos) << keys;
    EXPECT_NE(keys.find(gun() + " targets\n"), std::string::npos) << keys;

    ProcessResult sign = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "1234"});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(sign.out.find("Successfully signed " + image("v1")), std::string::npos) << sign.out;
    // As docker: into targets/releases and the signer's own role.
    for (const std::string role : {"targets/releases", "targets/alice"}) {
        const std::string line = listed("v1", role);
        EXPECT_NE(line.find(kDigestHex), std::string::npos) << role << ": " << line;
        EXPECT_NE(line.find("1234"), std::string::npos) << role << ": " << line;
        EXPECT_NE(line.find(role), std::string::npos) << role << ": " << line;
    }

    ProcessResult revoke = trust({"revoke", image("v1")});
    ASSERT_EQ(revoke.exit_code, 0) << describe(revoke);
    EXPECT_EQ(listed("v1"), "");
    EXPECT_EQ(listed("v1", "targets/releases"), "");

    // alice's key signed targets/releases last: removing her needs a confirmation.
    ProcessResult remove = trust({"signer", "remove", "--force", "alice", image()});
    ASSERT_EQ(remove.exit_code, 0) << describe(remove);
    EXPECT_EQ(notary({"delegation", "list", gun()}).find("targets/alice"), std::string::npos);
}

TEST_F(TrustVerbsTest, RevokeWithoutTagRemovesEveryReleasedTag) {
    add_signer("bob");
    ProcessResult sign = trust({"sign", image("a"), image("b"), "--digest", "sha256:" + kDigestHex, "--size", "7"});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(listed("a"), "");
    EXPECT_NE(listed("b"), "");
    ProcessResult revoke = trust({"revoke", "--yes", image()});
    ASSERT_EQ(revoke.exit_code, 0) << describe(revoke);
    EXPECT_EQ(listed("a"), "");
    EXPECT_EQ(listed("b"), "");
}

TEST_F(TrustVerbsTest, SignResolvesDigestFromRegistry) {
    const PushedImage pushed = m_registry.push_image("team/app", "v2");
    add_signer("carol");
    ProcessResult sign = trust({"sign", image("v2")});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    const std::string line = listed("v2");
    EXPECT_NE(line.find(pushed.digest.substr(7)), std::string::npos) << line;
    EXPECT_NE(line.find(std::to_string(pushed.size)), std::string::npos) << line;
}

TEST_F(TrustVerbsTest, SignNewRepositoryGoesToTargets) {
    ProcessResult sign = trust({"sign", image("v3"), "--digest", "sha256:" + kDigestHex, "--size", "10"});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    const std::string line = listed("v3");
    EXPECT_NE(line.find(kDigestHex), std::string::npos) << line;
    EXPECT_EQ(line.find("targets/"), std::string::npos) << line;
    // No registry credentials, so no targets/<user> signer: said on stderr.
    EXPECT_NE(sign.err.find("No credentials for " + m_registry.host()), std::string::npos) << sign.err;
}

TEST_F(TrustVerbsTest, SignFromManifestFile) {
    const PushedImage pushed = m_registry.push_image("team/app", "file");
    const auto manifest = m_work / "manifest.json";
    std::ofstream(manifest, std::ios::binary) << pushed.manifest;
    ProcessResult sign = trust({"sign", image("file"), "--manifest", manifest.string()});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    const std::string line = listed("file");
    EXPECT_NE(line.find(pushed.digest.substr(7)), std::string::npos) << line;
    EXPECT_NE(line.find(" " + std::to_string(pushed.size) + " "), std::string::npos) << line;
    EXPECT_EQ(trust({"sign", image("x"), "--manifest", manifest.string(), "--digest", "sha256:" + kDigestHex,
                     "--size", "1"})
                  .exit_code,
              2);
}

TEST_F(TrustVerbsTest, TagMissingFromRegistryFails) {
    add_signer("dave");
    ProcessResult sign = trust({"sign", image("nope")});
    EXPECT_EQ(sign.exit_code, 1) << describe(sign);
    EXPECT_NE(sign.err.find(image("nope")), std::string::npos) << sign.err;
    EXPECT_EQ(listed("nope"), "");
}

TEST_F(TrustVerbsTest, ServerDownNamesUrl) {
    const std::string down = "https://127.0.0.1:1";
    ProcessResult sign = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "1"}, down);
    EXPECT_EQ(sign.exit_code, 1) << describe(sign);
    EXPECT_NE(sign.err.find(down), std::string::npos) << sign.err;
}

TEST_F(TrustVerbsTest, SignerKeyNotInAgentFails) {
    // A signer whose private key trustkeyd does not hold: nothing it may sign with.
    make_self_signed_ec_cert(m_work / "eve.key", m_work / "eve.crt", "eve");
    ProcessResult add = trust({"signer", "add", "--key", (m_work / "eve.crt").string(), "eve", image()});
    ASSERT_EQ(add.exit_code, 0) << describe(add);
    const auto cached = tree(cache_of(docker_config() / "trust"));
    ASSERT_EQ(cached.count("targets.json"), 1u);
    ProcessResult sign = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "1"});
    EXPECT_EQ(sign.exit_code, 1) << describe(sign);
    EXPECT_NE(sign.err.find("trustkeyd holds no key"), std::string::npos) << sign.err;
    EXPECT_EQ(listed("v1"), "");
    // The failed publish left the cache byte for byte as it was.
    EXPECT_EQ(tree(cache_of(docker_config() / "trust")), cached);

    ProcessResult missing = trust({"signer", "add", "--key", (m_work / "absent.pub").string(), "x", image()});
    EXPECT_EQ(missing.exit_code, 1) << describe(missing);
    EXPECT_NE(missing.err.find("absent.pub"), std::string::npos) << missing.err;
}

TEST_F(TrustVerbsTest, KeyLoadImportsIntoAgent) {
    const auto plain = m_work / "plain.pem";
    const auto locked = m_work / "locked.pem";
    ASSERT_EQ(run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                           plain.string()}).exit_code, 0);
    ASSERT_EQ(run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-aes256", "-pass", "pass:secret-1", "-out", locked.string()}).exit_code, 0);
    std::filesystem::permissions(plain, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::filesystem::permissions(locked, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

    ProcessResult r = trust({"key", "load", plain.string(), "--name", "frank"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_NE(r.out.find("Successfully imported key from " + plain.string()), std::string::npos) << r.out;
    EXPECT_TRUE(std::filesystem::exists(plain));  // not a terminal: nothing offered, nothing removed
    EXPECT_EQ(m_daemon.trustkey({"key", "public", "frank"}).exit_code, 0);

    ProcessOptions with_passphrase;
    with_passphrase.env = {"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=secret-1"};
    ProcessResult enc = m_daemon.trustkey({"trust", "key", "load", locked.string(), "--name", "gina"}, with_passphrase);
    ASSERT_EQ(enc.exit_code, 0) << describe(enc);
    EXPECT_EQ(m_daemon.trustkey({"key", "public", "gina"}).exit_code, 0);

    std::filesystem::permissions(plain, std::filesystem::perms::others_read, std::filesystem::perm_options::add);
    ProcessResult open = trust({"key", "load", plain.string(), "--name", "hank"});
    EXPECT_EQ(open.exit_code, 1) << describe(open);
    EXPECT_NE(open.err.find("must not be readable"), std::string::npos) << open.err;
    EXPECT_NE(m_daemon.trustkey({"key", "public", "hank"}).exit_code, 0);
}

TEST_F(TrustVerbsTest, KeyRotateTargetsAndTimestamp) {
    ProcessResult first = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "5"});
    ASSERT_EQ(first.exit_code, 0) << describe(first);

    ProcessResult rotate = trust({"key", "rotate", image(), "targets"});
    ASSERT_EQ(rotate.exit_code, 0) << describe(rotate);
    const auto at = rotate.out.find("(new key ");
    ASSERT_NE(at, std::string::npos) << rotate.out;
    const std::string new_id = rotate.out.substr(at + 9, 64);
    const ProcessResult root = m_notary.https_get("/v2/" + gun() + "/_trust/tuf/root.json");
    ASSERT_EQ(root.exit_code, 0) << root.out;
    const auto targets_role = root.out.find("\"targets\":{\"keyids\":[\"" + new_id + "\"]");
    EXPECT_NE(targets_role, std::string::npos) << root.out;

    // The old tag still verifies under the new root, and new tags are signed with the new key.
    EXPECT_NE(listed("v1").find(kDigestHex), std::string::npos);
    ProcessResult second = trust({"sign", image("v2"), "--digest", "sha256:" + kDigestHex, "--size", "6"});
    ASSERT_EQ(second.exit_code, 0) << describe(second);
    EXPECT_NE(listed("v2").find(kDigestHex), std::string::npos);

    ProcessResult ts = trust({"key", "rotate", image(), "timestamp", "--server-managed"});
    ASSERT_EQ(ts.exit_code, 0) << describe(ts);
    EXPECT_NE(listed("v2").find(kDigestHex), std::string::npos);

    ProcessResult snap = trust({"key", "rotate", image(), "snapshot", "--server-managed"});
    ASSERT_EQ(snap.exit_code, 0) << describe(snap);
    EXPECT_NE(listed("v2").find(kDigestHex), std::string::npos);

    EXPECT_EQ(trust({"key", "rotate", image(), "timestamp"}).exit_code, 2);
    EXPECT_EQ(trust({"key", "rotate", image(), "targets", "--server-managed"}).exit_code, 2);
    EXPECT_EQ(trust({"key", "rotate", image(), "targets/releases"}).exit_code, 2);
}

TEST_F(TrustVerbsTest, SignKeepsTheTrustDirCacheCurrentForVerify) {
    const std::string dir = (m_work / "trust-cache").string();
    const auto served = [&](const std::string& role) {
        const ProcessResult r = m_notary.https_get("/v2/" + gun() + "/_trust/tuf/" + role + ".json");
        EXPECT_EQ(r.exit_code, 0) << role << ": " << r.out;
        return r.out;
    };
    for (const std::string tag : {"v1", "v2"}) {
        ProcessResult sign =
            trust({"--trust-dir", dir, "sign", image(tag), "--digest", "sha256:" + kDigestHex, "--size", "9"});
        ASSERT_EQ(sign.exit_code, 0) << describe(sign);
        // The cache holds the server's files as they are after the publish.
        const auto cached = tree(cache_of(dir));
        for (const std::string role : {"root", "targets", "snapshot", "timestamp"}) {
            ASSERT_EQ(cached.count(role + ".json"), 1u) << role;
            EXPECT_EQ(cached.at(role + ".json"), served(role)) << tag << " " << role;
        }
    }
    ProcessResult verify = trust({"--trust-dir", dir, "verify", image("v2")});
    ASSERT_EQ(verify.exit_code, 0) << describe(verify);
    EXPECT_EQ(verify.out, "sha256:" + kDigestHex + "\n");
    // --trust-dir kept docker's default trust directory out of it.
    EXPECT_FALSE(std::filesystem::exists(docker_config() / "trust"));
}

TEST_F(TrustVerbsTest, SignRefusesARootReplacedOnTheServer) {
    ProcessResult first = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "3"});
    ASSERT_EQ(first.exit_code, 0) << describe(first);
    const auto cached = tree(cache_of(docker_config() / "trust"));
    ASSERT_EQ(cached.count("root.json"), 1u);

    // The repository is deleted on the server and made again by the notary CLI with a root of its own.
    notary({"delete", gun(), "--remote"});
    notary({"init", gun(), "-p"});
    const ProcessResult before = m_notary.https_get("/v2/" + gun() + "/_trust/tuf/targets.json");
    ASSERT_EQ(before.exit_code, 0) << before.out;

    ProcessResult sign = trust({"sign", image("v2"), "--digest", "sha256:" + kDigestHex, "--size", "4"});
    EXPECT_EQ(sign.exit_code, 1) << describe(sign);
    EXPECT_EQ(sign.err_lines(), 1u) << sign.err;
    EXPECT_NE(sign.err.find(gun()), std::string::npos) << sign.err;
    EXPECT_NE(sign.err.find(m_notary.url()), std::string::npos) << sign.err;
    EXPECT_NE(sign.err.find("root: "), std::string::npos) << sign.err;
    EXPECT_NE(sign.err.find("not a valid rotation"), std::string::npos) << sign.err;
    // Nothing changed on the server or in the cache.
    EXPECT_EQ(m_notary.https_get("/v2/" + gun() + "/_trust/tuf/targets.json").out, before.out);
    EXPECT_EQ(tree(cache_of(docker_config() / "trust")), cached);
    EXPECT_EQ(listed("v2"), "");
}

TEST_F(TrustVerbsTest, ConcurrentSignsIntoOneRepositoryBothLand) {
    ProcessResult first = trust({"sign", image("base"), "--digest", "sha256:" + kDigestHex, "--size", "2"});
    ASSERT_EQ(first.exit_code, 0) << describe(first);
    sign_concurrently({"left", "right"});
    EXPECT_NE(listed("base").find(kDigestHex), std::string::npos);
}

TEST_F(TrustVerbsTest, ConcurrentSignsIntoANewRepositoryBothLand) {
    // Both may find no repository and initialize it; the one that loses signs into the other's.
    sign_concurrently({"left", "right"});
}

TEST_F(TrustVerbsTest, UsageErrors) {
    EXPECT_EQ(trust({"sign", image()}).exit_code, 2);  // no tag
    EXPECT_EQ(trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex}).exit_code, 2);  // no size
    EXPECT_EQ(trust({"sign", image("v1"), "--digest", "md5:00", "--size", "1"}).exit_code, 2);
    EXPECT_EQ(trust({"signer", "add", "--key", "k.pub", "releases", image()}).exit_code, 2);
}

} // namespace
} // namespace trustkey::test
