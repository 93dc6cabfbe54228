// Interop from the real notary client to trustkey: a repository made by Debian's
// `notary` CLI (init, a target, a delegation with its key) is read and verified by
// `trustkey trust inspect` and `trust verify`; the delegation's private key, taken from
// the notary client's own trust directory, is loaded onto the token with
// `trustkey trust key load`, and `trustkey trust sign` signs a new tag into that
// delegation. The real `notary list`/`lookup` (following from its own cache) and
// Debian's `docker trust inspect` then show the new tag.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDocker = "/usr/bin/docker";
constexpr const char* kReleases = "targets/releases";

std::string sha256_hex(const std::string& content) { return to_hex(sha256(as_bytes(content))); }

std::string describe(const ProcessResult& r) {
    return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// The line of `text` that starts with `word` followed by a space; empty when none does.
std::string line_starting(const std::string& text, const std::string& word) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(word + " ", 0) == 0) return line;
    return {};
}

class TrustInteropTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_gun = "127.0.0.1:" + std::to_string(m_server.port()) + "/interop";
        // docker reads the notary CA from $DOCKER_CONFIG/tls/<host:port>/ca.crt.
        const fs::path tls = m_docker_config / "tls" / ("127.0.0.1:" + std::to_string(m_server.port()));
        fs::create_directories(tls);
        fs::copy_file(m_server.ca_cert_path(), tls / "ca.crt");
    }

    // The real notary CLI with the publisher's own trust directory; expects success.
    std::string notary(const std::vector<std::string>& args) {
        ProcessResult r = m_server.run_notary(m_publisher, args);
        std::string line = "notary";
        for (const auto& a : args) line += " " + a;
        EXPECT_EQ(r.exit_code, 0) << line << "\n" << describe(r) << m_server.log_tail(10);
        return r.out;
    }

    fs::path payload(const std::string& name, const std::string& content) {
        const fs::path p = m_work / name;
        write_file(p, content);
        return p;
    }

    // As a notary user makes it: init, a target in targets, publish; the delegation
    // targets/releases with a certificate, publish; its key imported; a tag in it, publish.
    void make_repository_with_notary() {
        notary({"init", m_gun});
        notary({"add", m_gun, "v1", payload("v1", m_v1).string()});
        notary({"publish", m_gun});
        make_self_signed_ec_cert(m_work / "releases.key", m_work / "releases.crt", "releases", 3650);
        notary({"delegation", "add", m_gun, kReleases, (m_work / "releases.crt").string(), "--all-paths"});
        notary({"publish", m_gun});
        notary({"key", "import", (m_work / "releases.key").string(), "--role", kReleases});
        notary({"add", m_gun, "v2", payload("v2", m_v2).string(), "--roles", kReleases});
        notary({"publish", m_gun});
    }

    // The delegation's private key as the notary client keeps it: private/<id>.key, an
    // encrypted PKCS#8 PEM whose headers name the role.
    fs::path notary_delegation_key() const {
        std::vector<fs::path> found;
        for (const auto& e : fs::recursive_directory_iterator(m_publisher / "private")) {
            if (!e.is_regular_file() || e.path().extension() != ".key") continue;
            if (read_file(e.path()).find("role: " + std::string(kReleases) + "\n") != std::string::npos)
                found.push_back(e.path());
        }
        EXPECT_EQ(found.size(), 1u) << "keys for " << kReleases << " under " << (m_publisher / "private");
        return found.empty() ? fs::path() : found.front();
    }

    ProcessOptions cli_options() const {
        ProcessOptions o;
        o.env = {"DOCKER_CONFIG=" + m_docker_config.string(), "HOME=" + m_work.path().string()};
        o.unset = {"DOCKER_CONTENT_TRUST_SERVER", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"};
        return o;
    }

    // `trustkey trust` against the fixture's server, with its own trust directory.
    ProcessResult trustkey(const std::vector<std::string>& args, ProcessOptions options) const {
        std::vector<std::string> full{"trust", "--server", m_server.url(), "--tlscacert",
                                      m_server.ca_cert_path().string(), "--trust-dir", m_trust_dir.string()};
        full.insert(full.end(), args.begin(), args.end());
        return m_daemon.trustkey(full, options);
    }
    ProcessResult trustkey(const std::vector<std::string>& args) const { return trustkey(args, cli_options()); }

    ProcessResult docker(const std::vector<std::string>& args) const {
        std::vector<std::string> argv{kDocker};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions options = cli_options();
        options.env.push_back("DOCKER_CONTENT_TRUST_SERVER=" + m_server.url());
        options.unset = {"DOCKER_HOST", "DOCKER_CONTEXT"};
        return run_process(argv, options);
    }

    // tag@digest -> signers, from `inspect` JSON (trustkey's or docker's).
    static std::map<std::string, std::vector<std::string>> signed_tags(const std::string& json) {
        std::map<std::string, std::vector<std::string>> tags;
        const auto j = nlohmann::json::parse(json);
        if (j.size() != 1) return tags;
        for (const auto& row : j[0]["SignedTags"])
            tags[row["SignedTag"].get<std::string>() + "@" + row["Digest"].get<std::string>()] =
                row["Signers"].get<std::vector<std::string>>();
        return tags;
    }

    NotaryServer m_server;
    CliDaemon m_daemon;
    TempDir m_work{"trustkey-trust-interop"};
    fs::path m_publisher = m_work / "notary-publisher";
    fs::path m_docker_config = m_work / "docker-config";
    fs::path m_trust_dir = m_work / "trustkey-trust";
    std::string m_gun;
    const std::string m_v1 = "made by the notary client\n";
    const std::string m_v2 = "released through the notary client's delegation\n";
    const std::string m_v3 = "signed into the same delegation by trustkey\n";
};

TEST_F(TrustInteropTest, TrustkeyReadsAndSignsIntoANotaryRepository) {
    make_repository_with_notary();
    ASSERT_FALSE(HasFailure());

    // trustkey reads and verifies what the notary client made.
    ProcessResult inspect = trustkey({"inspect", m_gun});
    ASSERT_EQ(inspect.exit_code, 0) << describe(inspect);
    auto tags = signed_tags(inspect.out);
    EXPECT_EQ(tags.size(), 2u) << inspect.out;
    EXPECT_EQ(tags["v1@" + sha256_hex(m_v1)], std::vector<std::string>{"Repo Admin"}) << inspect.out;
    EXPECT_EQ(tags["v2@" + sha256_hex(m_v2)], std::vector<std::string>{"Repo Admin"}) << inspect.out;
    ProcessResult verify = trustkey({"verify", m_gun + ":v2"});
    ASSERT_EQ(verify.exit_code, 0) << describe(verify);
    EXPECT_EQ(verify.out, "sha256:" + sha256_hex(m_v2) + "\n");

    // The delegation key, straight from the notary client's trust directory, onto the token.
    const fs::path key_file = notary_delegation_key();
    ASSERT_FALSE(key_file.empty());
    const std::string key_pem = read_file(key_file);
    ASSERT_EQ(key_pem.rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----\n", 0), 0u) << key_pem.substr(0, 80);
    ProcessOptions with_passphrase = cli_options();
    with_passphrase.env.push_back(std::string("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=") +
                                  NotaryServer::kPassphrase);
    ProcessResult load = trustkey({"key", "load", key_file.string(), "--name", "notary-releases"}, with_passphrase);
    ASSERT_EQ(load.exit_code, 0) << describe(load);
    EXPECT_NE(load.out.find("Successfully imported key from " + key_file.string()), std::string::npos) << load.out;
    EXPECT_EQ(read_file(key_file), key_pem);  // not a terminal: the file is left as it was

    // `notary init` keeps the snapshot key in the notary client: a delegate cannot publish
    // (nor can it with the notary CLI) until the owner lets the server manage it.
    const std::string digest = "sha256:" + sha256_hex(m_v3);
    const std::string size = std::to_string(m_v3.size());
    const std::string releases_before = m_server.https_get("/v2/" + m_gun + "/_trust/tuf/targets/releases.json").out;
    ProcessResult refused = trustkey({"sign", m_gun + ":v3", "--digest", digest, "--size", size});
    EXPECT_EQ(refused.exit_code, 1) << describe(refused);
    EXPECT_EQ(refused.err_lines(), 1u) << describe(refused);
    EXPECT_NE(refused.err.find("does not hold the snapshot key"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find(m_gun), std::string::npos) << refused.err;
    EXPECT_EQ(m_server.https_get("/v2/" + m_gun + "/_trust/tuf/targets/releases.json").out, releases_before);
    notary({"key", "rotate", m_gun, "snapshot", "-r"});

    // trustkey signs a new tag into the notary client's delegation.
    ProcessResult sign = trustkey({"sign", m_gun + ":v3", "--digest", digest, "--size", size});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign) << m_server.log_tail(10);
    EXPECT_NE(sign.out.find("Successfully signed " + m_gun + ":v3"), std::string::npos) << sign.out;

    // The notary client, following from its own cache, lists it in targets/releases.
    const std::string listed = line_starting(notary({"list", m_gun}), "v3");
    EXPECT_NE(listed.find(sha256_hex(m_v3)), std::string::npos) << listed;
    EXPECT_NE(listed.find(" " + size + " "), std::string::npos) << listed;
    EXPECT_NE(listed.find(kReleases), std::string::npos) << listed;
    EXPECT_NE(line_starting(notary({"list", m_gun, "--roles", kReleases}), "v2").find(sha256_hex(m_v2)),
              std::string::npos);
    const std::string lookup = notary({"lookup", m_gun, "v3"});
    EXPECT_NE(lookup.find(sha256_hex(m_v3)), std::string::npos) << lookup;
    EXPECT_NE(lookup.find(size), std::string::npos) << lookup;
    // Its own tag from before is still there, in targets.
    EXPECT_NE(line_starting(notary({"list", m_gun}), "v1").find(sha256_hex(m_v1)), std::string::npos);

    // Debian's docker CLI lists it too.
    ProcessResult d = docker({"trust", "inspect", m_gun});
    ASSERT_EQ(d.exit_code, 0) << describe(d);
    const auto docker_tags = signed_tags(d.out);
    EXPECT_EQ(docker_tags.size(), 3u) << d.out;
    EXPECT_TRUE(docker_tags.contains("v3@" + sha256_hex(m_v3))) << d.out;
    EXPECT_TRUE(docker_tags.contains("v2@" + sha256_hex(m_v2))) << d.out;

    // And trustkey's own view, updated from its cache, agrees.
    ProcessResult again = trustkey({"inspect", m_gun});
    ASSERT_EQ(again.exit_code, 0) << describe(again);
    EXPECT_EQ(signed_tags(again.out), docker_tags) << again.out << "\n" << d.out;
    ProcessResult verify_new = trustkey({"verify", m_gun + ":v3", "--digest", digest});
    ASSERT_EQ(verify_new.exit_code, 0) << describe(verify_new);
    EXPECT_EQ(verify_new.out, digest + "\n");
}

} // namespace
} // namespace trustkey::test
