// `trustkey trust inspect` and `trust verify` against the real notary-server, with a
// repository made by the real notary CLI, compared with what the real docker CLI
// (Debian's docker.io 20.10 at /usr/bin/docker) prints for the same server; and
// trustkey run by that docker CLI as a plugin.
#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDocker = "/usr/bin/docker";

std::string sha256_hex(const std::string& content) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(content.data());
    return to_hex(sha256({p, content.size()}));
}

// docker sorts released tags by tag name only, with an unstable sort over a Go map, so
// rows of one tag with different digests come in any order. Both outputs are brought to
// one order for those rows (by digest); everything else must be byte for byte the same.
std::string same_tag_rows_sorted(const std::string& text) {
    if (!text.empty() && text.front() == '[') {
        auto j = nlohmann::ordered_json::parse(text);
        for (auto& repo : j) {
            auto& rows = repo["SignedTags"];
            std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
                return std::make_pair(a["SignedTag"].template get<std::string>(), a["Digest"].template get<std::string>()) <
                       std::make_pair(b["SignedTag"].template get<std::string>(), b["Digest"].template get<std::string>());
            });
        }
        return j.dump(4) + "\n";
    }
    // --pretty: sort runs of table rows that start with the same tag.
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    auto first_word = [](const std::string& line) { return line.substr(0, line.find(' ')); };
    for (std::size_t i = 0; i < lines.size();) {
        std::size_t end = i + 1;
        if (!lines[i].empty() && lines[i].front() != ' ')
            while (end < lines.size() && !lines[end].empty() && first_word(lines[end]) == first_word(lines[i])) ++end;
        std::sort(lines.begin() + static_cast<std::ptrdiff_t>(i), lines.begin() + static_cast<std::ptrdiff_t>(end));
        i = end;
    }
    std::string out;
    for (const auto& line : lines) out += line + "\n";
    return out;
}

class TrustPullTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_gun = "127.0.0.1:" + std::to_string(m_server.port()) + "/app";
        // docker reads the notary CA from $DOCKER_CONFIG/tls/<host:port>/ca.crt.
        const fs::path tls = m_docker_config / "tls" / ("127.0.0.1:" + std::to_string(m_server.port()));
        fs::create_directories(tls);
        fs::copy_file(m_server.ca_cert_path(), tls / "ca.crt");
    }

    void notary(const std::vector<std::string>& args) {
        ProcessResult r = m_server.run_notary(m_publisher, args);
        std::string line = "notary";
        for (const auto& a : args) line += " " + a;
        ASSERT_EQ(r.exit_code, 0) << line << "\n" << r.out << r.err << m_server.log_tail(10);
    }

    fs::path payload(const std::string& name, const std::string& content) {
        const fs::path p = m_work / name;
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }

    void add_delegation(const std::string& role, const std::string& name) {
        const fs::path key = m_work / (name + ".key");
        const fs::path cert = m_work / (name + ".crt");
        make_self_signed_ec_cert(key, cert, name, 3650);
        notary({"delegation", "add", m_gun, role, cert.string(), "--all-paths"});
        notary({"publish", m_gun});
        notary({"key", "import", key.string(), "--role", role});
    }

    // targets: v1 (m_v1) and admin-only (m_admin); targets/releases: v1 (m_v1_released) and
    // v2; targets/zed and targets/alice: v2 (same digest as releases); targets/alice also an
    // unreleased tag.
    void make_repository() {
        notary({"init", m_gun});
        notary({"add", m_gun, "v1", payload("v1", m_v1).string()});
        notary({"add", m_gun, "admin-only", payload("admin", m_admin).string()});
        notary({"publish", m_gun});
        add_delegation("targets/releases", "releases");
        add_delegation("targets/alice", "alice");
        add_delegation("targets/zed", "zed");
        notary({"add", m_gun, "v2", payload("v2", m_v2).string(), "--roles", "targets/releases"});
        notary({"add", m_gun, "v1", payload("v1r", m_v1_released).string(), "--roles", "targets/releases"});
        notary({"add", m_gun, "v2", payload("v2z", m_v2).string(), "--roles", "targets/zed"});
        notary({"add", m_gun, "v2", payload("v2a", m_v2).string(), "--roles", "targets/alice"});
        notary({"add", m_gun, "draft", payload("draft", "draft").string(), "--roles", "targets/alice"});
        notary({"publish", m_gun});
    }

    std::vector<std::string> docker_env() const {
        return {"DOCKER_CONFIG=" + m_docker_config.string(), "DOCKER_CONTENT_TRUST_SERVER=" + m_server.url(),
                "HOME=" + m_work.string()};
    }

    ProcessResult trustkey(const std::vector<std::string>& args, const std::string& trust_dir) const {
        std::vector<std::string> argv{TRUSTKEY_CLI_PATH, "trust", "--trust-dir", trust_dir};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions options;
        options.env = docker_env();
        return run_process(argv, options);
    }

    ProcessResult docker(const std::vector<std::string>& args) const {
        std::vector<std::string> argv{kDocker};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions options;
        options.env = docker_env();
        options.unset = {"DOCKER_HOST", "DOCKER_CONTEXT"};
        return run_process(argv, options);
    }

    // Runs docker and trustkey with the same arguments; both must succeed and print
    // the same text.
    // Returns trustkey's output.
    std::string expect_same_as_docker(const std::vector<std::string>& trust_args) {
        ProcessResult d = docker([&] {
            std::vector<std::string> a{"trust"};
            a.insert(a.end(), trust_args.begin(), trust_args.end());
            return a;
        }());
        EXPECT_EQ(d.exit_code, 0) << "docker: " << d.out << d.err;
        ProcessResult t = trustkey(trust_args, (m_work / "trustkey-trust").string());
        EXPECT_EQ(t.exit_code, 0) << "trustkey: " << t.out << t.err;
        EXPECT_EQ(same_tag_rows_sorted(t.out), same_tag_rows_sorted(d.out));
        return t.out;
    }

    NotaryServer m_server;
    TempDir m_tmp{"trustkey-trust-pull"};
    fs::path m_work = m_tmp.path();
    fs::path m_publisher = m_tmp / "publisher";
    fs::path m_docker_config = m_tmp / "docker-config";
    std::string m_gun;
    std::string m_v1 = "first image manifest";
    std::string m_v1_released = "first image manifest, released";
    std::string m_v2 = "second image manifest";
    std::string m_admin = "signed by the admin only";
};

TEST_F(TrustPullTest, InspectJsonIsDockers) {
    make_repository();
    expect_same_as_docker({"inspect", m_gun});

    // And the content is what was published.
    ProcessResult t = trustkey({"inspect", m_gun}, (m_work / "trustkey-trust").string());
    ASSERT_EQ(t.exit_code, 0) << t.err;
    const auto j = nlohmann::json::parse(t.out);
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0]["Name"], m_gun);
    std::map<std::string, std::vector<std::string>> tags;
    for (const auto& row : j[0]["SignedTags"]) {
        tags[row["SignedTag"].get<std::string>() + "@" + row["Digest"].get<std::string>()] =
            row["Signers"].get<std::vector<std::string>>();
    }
    EXPECT_EQ(tags.size(), 4u) << t.out;
    auto v2_signers = tags["v2@" + sha256_hex(m_v2)];
    std::sort(v2_signers.begin(), v2_signers.end());
    EXPECT_EQ(v2_signers, (std::vector<std::string>{"alice", "zed"}));
    EXPECT_EQ(tags["v1@" + sha256_hex(m_v1)], std::vector<std::string>{"Repo Admin"});
    EXPECT_EQ(tags["v1@" + sha256_hex(m_v1_released)], std::vector<std::string>{"Repo Admin"});
    EXPECT_EQ(tags["admin-only@" + sha256_hex(m_admin)], std::vector<std::string>{"Repo Admin"});
    ASSERT_EQ(j[0]["Signers"].size(), 2u) << t.out;
    EXPECT_EQ(j[0]["Signers"][0]["Name"], "zed");
    EXPECT_EQ(j[0]["Signers"][1]["Name"], "alice");
    ASSERT_EQ(j[0]["AdministrativeKeys"].size(), 2u);
    EXPECT_EQ(j[0]["AdministrativeKeys"][0]["Name"], "Root");
    EXPECT_EQ(j[0]["AdministrativeKeys"][1]["Name"], "Repository");
}

TEST_F(TrustPullTest, InspectOneTagAndPrettyAreDockers) {
    make_repository();
    expect_same_as_docker({"inspect", m_gun + ":v2"});
    const std::string pretty = expect_same_as_docker({"inspect", "--pretty", m_gun});
    const auto row = pretty.find("\nv2           " + sha256_hex(m_v2) + "   ");
    ASSERT_NE(row, std::string::npos) << pretty;
    const std::string row_text = pretty.substr(row + 1, pretty.find('\n', row + 1) - row - 1);
    EXPECT_TRUE(row_text.ends_with("   zed, alice") || row_text.ends_with("   alice, zed")) << row_text;
    expect_same_as_docker({"inspect", "--pretty", m_gun + ":v1"});
    // Several repositories, one of them without trust data: docker prints the others and fails.
    ProcessResult t = trustkey({"inspect", m_gun, "127.0.0.1:1/none"}, (m_work / "trustkey-trust").string());
    EXPECT_EQ(t.exit_code, 1);
    EXPECT_EQ(nlohmann::json::parse(t.out).size(), 1u) << t.out;
}

TEST_F(TrustPullTest, VerifyPrintsTheTrustedDigest) {
    make_repository();
    const std::string dir = (m_work / "trustkey-trust").string();
    ProcessResult ok = trustkey({"verify", m_gun + ":v2"}, dir);
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_EQ(ok.out, "sha256:" + sha256_hex(m_v2) + "\n");

    // targets/releases wins over targets for v1.
    ProcessResult released = trustkey({"verify", m_gun + ":v1", "--digest", "sha256:" + sha256_hex(m_v1_released)}, dir);
    EXPECT_EQ(released.exit_code, 0) << released.err;
    EXPECT_EQ(released.out, "sha256:" + sha256_hex(m_v1_released) + "\n");

    ProcessResult wrong = trustkey({"verify", m_gun + ":v1", "--digest", "sha256:" + sha256_hex(m_v1)}, dir);
    EXPECT_EQ(wrong.exit_code, 1);
    EXPECT_EQ(wrong.out, "");
    EXPECT_NE(wrong.err.find("not sha256:" + sha256_hex(m_v1)), std::string::npos) << wrong.err;
    EXPECT_EQ(wrong.err_lines(), 1u) << wrong.err;

    ProcessResult unknown = trustkey({"verify", m_gun + ":nope"}, dir);
    EXPECT_EQ(unknown.exit_code, 1);
    EXPECT_EQ(unknown.out, "");
    EXPECT_NE(unknown.err.find("no trusted signature for tag 'nope'"), std::string::npos) << unknown.err;

    // Only signed by a delegation that is not released: not trusted.
    ProcessResult draft = trustkey({"verify", m_gun + ":draft"}, dir);
    EXPECT_EQ(draft.exit_code, 1) << draft.out;

    ProcessResult bad_digest = trustkey({"verify", m_gun + ":v2", "--digest", "sha256:xyz"}, dir);
    EXPECT_EQ(bad_digest.exit_code, 2);
    EXPECT_NE(bad_digest.err.find("--digest must be sha256:"), std::string::npos) << bad_digest.err;
}

TEST_F(TrustPullTest, VerifyWithServerDownSaysSo) {
    make_repository();
    std::string url;
    std::uint16_t port = 0;
    {
        NotaryServer gone;
        url = gone.url();
        port = gone.port();
    }
    ProcessOptions options;
    options.env = {"DOCKER_CONFIG=" + m_docker_config.string()};
    ProcessResult r = run_process({TRUSTKEY_CLI_PATH, "trust", "--server", url, "--tlscacert",
                                   m_server.ca_cert_path().string(), "--trust-dir", (m_work / "t").string(),
                                   "verify", m_gun + ":v2"},
                                  options);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("cannot reach"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(std::to_string(port)), std::string::npos) << r.err;
}

TEST_F(TrustPullTest, VerifyWithoutTrustDataFails) {
    ProcessResult r = trustkey({"verify", m_gun + ":v1"}, (m_work / "t").string());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("no trust data for " + m_gun), std::string::npos) << r.err;
}

TEST_F(TrustPullTest, DockerRunsTrustkeyAsPlugin) {
    make_repository();
    ProcessOptions options;
    options.env = docker_env();
    // docker-trust too, though this docker has `trust` builtin: the plugin is run directly below.
    ProcessResult install =
        run_process({TRUSTKEY_CLI_PATH, "install-docker-plugin", "--trust-plugin", "yes"}, options);
    ASSERT_EQ(install.exit_code, 0) << install.err;
    const fs::path link = m_docker_config / "cli-plugins" / "docker-trustkey";
    ASSERT_TRUE(fs::is_symlink(link));
    EXPECT_TRUE(fs::is_symlink(m_docker_config / "cli-plugins" / "docker-trust"));

    ProcessResult meta = run_process({link.string(), "docker-cli-plugin-metadata"});
    ASSERT_EQ(meta.exit_code, 0) << meta.err;
    const auto j = nlohmann::json::parse(meta.out);
    EXPECT_EQ(j["SchemaVersion"], "0.1.0");
    EXPECT_EQ(j["Vendor"], "trustkey");
    EXPECT_FALSE(j["Version"].get<std::string>().empty());
    EXPECT_FALSE(j["ShortDescription"].get<std::string>().empty());

    // Installing again replaces the links.
    EXPECT_EQ(run_process({TRUSTKEY_CLI_PATH, "install-docker-plugin", "--trust-plugin=yes"}, options).exit_code, 0);

    const std::string trust_dir = (m_work / "plugin-trust").string();
    ProcessResult via_docker = docker({"trustkey", "trust", "--trust-dir", trust_dir, "inspect", m_gun});
    ASSERT_EQ(via_docker.exit_code, 0) << via_docker.out << via_docker.err;
    ProcessResult direct = trustkey({"inspect", m_gun}, (m_work / "direct-trust").string());
    ASSERT_EQ(direct.exit_code, 0) << direct.err;
    EXPECT_EQ(via_docker.out, direct.out);

    // The plugin's verbs are the trust verbs; the default trust dir is $DOCKER_CONFIG/trust.
    ProcessResult short_form = docker({"trustkey", "verify", m_gun + ":v2"});
    ASSERT_EQ(short_form.exit_code, 0) << short_form.out << short_form.err;
    EXPECT_EQ(short_form.out, "sha256:" + sha256_hex(m_v2) + "\n");
    EXPECT_TRUE(fs::exists(m_docker_config / "trust" / "tuf" / m_gun / "metadata" / "root.json"));

    // As docker-trust, run the way docker runs a plugin (its name first), `trust` is implied.
    ProcessOptions plugin_options;
    plugin_options.env = docker_env();
    ProcessResult as_trust = run_process({(m_docker_config / "cli-plugins" / "docker-trust").string(), "trust",
                                          "--trust-dir", trust_dir, "inspect", m_gun},
                                         plugin_options);
    ASSERT_EQ(as_trust.exit_code, 0) << as_trust.err;
    EXPECT_EQ(as_trust.out, direct.out);
}

TEST_F(TrustPullTest, InstallPluginKeepsAFileItDidNotMake) {
    const fs::path dir = m_work / "plugins";
    fs::create_directories(dir);
    std::ofstream(dir / "docker-trustkey") << "someone else's plugin";
    ProcessResult r = run_process({TRUSTKEY_CLI_PATH, "install-docker-plugin", "--dir", dir.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("is not a symbolic link"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::is_symlink(dir / "docker-trustkey"));
}

} // namespace
} // namespace trustkey::test
