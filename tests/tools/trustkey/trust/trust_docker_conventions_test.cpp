// docker's conventions in the publishing `trustkey trust` verbs, run as the real binary
// against a real trustkeyd, notary server and registry (basic auth) and checked with
// the real notary and docker CLIs:
//   - `sign` on a new repository creates the signer targets/<registry user>;
//   - `signer remove` asks before leaving targets/releases unsigned (--force skips);
//   - `signer add --root-key KEY` initializes with an existing agent key as root key;
//   - `sign --from-file FILE` signs a list of tags in one publish per repository.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "tests/tools/trustkey/trust/trust_verbs_fixture.h"
#include "tests/tools/trustkey/trust/docker_trust.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

const std::string kDigestHex(64, 'a');

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

// notary's id of an ecdsa public key: SHA-256 of the canonical JSON of the TUF key.
std::string ecdsa_key_id(const std::string& spki_der) {
    const auto* der = reinterpret_cast<const std::uint8_t*>(spki_der.data());
    const std::string json = R"({"keytype":"ecdsa","keyval":{"private":null,"public":")" +
                             to_base64({der, spki_der.size()}) + R"("}})";
    return to_hex(sha256({reinterpret_cast<const std::uint8_t*>(json.data()), json.size()}));
}

// The DER SubjectPublicKeyInfo of a PEM certificate, read by the openssl CLI; empty on failure.
std::string cert_public_key_der(const std::string& cert_pem) {
    ProcessOptions in;
    in.stdin_data = cert_pem;
    const ProcessResult pem = run_process({"openssl", "x509", "-pubkey", "-noout"}, in);
    if (pem.exit_code != 0) return {};
    in.stdin_data = pem.out;
    const ProcessResult der = run_process({"openssl", "pkey", "-pubin", "-outform", "DER"}, in);
    return der.exit_code == 0 ? der.out : std::string();
}

// A distinct sha256 hex digest per number.
std::string digest_hex(int n) { return fmt::format("{:064x}", n + 1); }

class TrustDockerConventionsTest : public TrustVerbsFixture {
protected:
    // The id of the agent key named `name` (from `trustkey key list --json`), empty when there is none.
    std::string agent_key_id(const std::string& name) const {
        const ProcessResult r = m_daemon.trustkey({"key", "list", "--json"});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        for (const auto& key : nlohmann::json::parse(r.out))
            if (key.at("name") == name) return key.at("id").get<std::string>();
        return {};
    }

    ProcessResult signer_remove(const std::vector<std::string>& extra, const std::string& answer) const {
        std::vector<std::string> args{"signer", "remove"};
        args.insert(args.end(), extra.begin(), extra.end());
        ProcessOptions o;
        o.stdin_data = answer;
        return trust(args, o);
    }

    std::string delegations(const std::string& repo = "team/app") { return notary({"delegation", "list", gun(repo)}); }

    fs::path write_file(const std::string& name, const std::string& content) const {
        const fs::path p = m_work / name;
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }

    // Debian's real `docker trust inspect REPO` (no engine needed) as JSON.
    nlohmann::json docker_inspect(const std::string& repo) const {
        return docker_trust_inspect(m_notary, docker_config(), m_work.path(), repo);
    }
};

// --- sign on a new repository: docker's targets/<registry user> signer ---

TEST_F(TrustDockerConventionsTest, SignNewRepositoryCreatesRegistryUserSigner) {
    write_registry_credentials();
    const PushedImage pushed = m_registry.push_image("team/app", "v1");
    const ProcessResult sign = trust({"sign", image("v1")});  // digest from the registry, with basic auth
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(sign.out.find("Created signer: ci-user\n"), std::string::npos) << sign.out;
    EXPECT_NE(sign.out.find("Finished initializing signed repository for " + image("v1")), std::string::npos)
        << sign.out;
    EXPECT_NE(sign.out.find("Successfully signed " + image("v1")), std::string::npos) << sign.out;

    // A new ECDSA agent key named after the user is the signer's key, in both roles.
    const std::string key_id = agent_key_id("ci-user");
    ASSERT_EQ(key_id.size(), 64u);
    const std::string list = delegations();
    EXPECT_NE(list.find("targets/ci-user"), std::string::npos) << list;
    EXPECT_NE(list.find("targets/releases"), std::string::npos) << list;
    std::istringstream rows(list);
    int rows_with_key = 0;
    for (std::string row; std::getline(rows, row);)
        if (row.find(key_id) != std::string::npos) ++rows_with_key;
    EXPECT_EQ(rows_with_key, 2) << list;

    for (const std::string role : {"targets/releases", "targets/ci-user"}) {
        const std::string line = listed("v1", role);
        EXPECT_NE(line.find(pushed.digest.substr(7)), std::string::npos) << role << ": " << line;
        EXPECT_NE(line.find(role), std::string::npos) << role << ": " << line;
    }
    // Not in the repository key's own file.
    const ProcessResult targets = m_notary.https_get("/v2/" + gun() + "/_trust/tuf/targets.json");
    ASSERT_EQ(targets.exit_code, 0) << targets.out;
    EXPECT_TRUE(nlohmann::json::parse(targets.out).at("signed").at("targets").empty()) << targets.out;

    // The next sign goes through the same signer.
    const ProcessResult again = trust({"sign", image("v2"), "--digest", "sha256:" + kDigestHex, "--size", "3"});
    ASSERT_EQ(again.exit_code, 0) << describe(again);
    EXPECT_EQ(again.out.find("Created signer"), std::string::npos) << again.out;
    EXPECT_NE(listed("v2", "targets/ci-user").find(kDigestHex), std::string::npos);
}

TEST_F(TrustDockerConventionsTest, SignNewRepositoryReusesTheUsersAgentKey) {
    write_registry_credentials();
    const ProcessResult gen = m_daemon.trustkey({"key", "generate", "ci-user"});
    ASSERT_EQ(gen.exit_code, 0) << describe(gen);
    const std::string key_id = trimmed(gen.out);
    const ProcessResult sign = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "9"});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    const std::string list = delegations();
    EXPECT_NE(list.find(key_id), std::string::npos) << key_id << "\n" << list;
    EXPECT_EQ(agent_key_id("ci-user"), key_id);
    EXPECT_NE(listed("v1", "targets/releases").find(kDigestHex), std::string::npos);
}

TEST_F(TrustDockerConventionsTest, SignNewRepositoryWithoutCredentialsSignsIntoTargets) {
    const ProcessResult sign = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "4"});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(sign.err.find("No credentials for " + m_registry.host()), std::string::npos) << sign.err;
    EXPECT_EQ(sign.err_lines(), 1u) << sign.err;
    EXPECT_EQ(sign.out.find("Created signer"), std::string::npos) << sign.out;
    const std::string line = listed("v1");
    EXPECT_NE(line.find(kDigestHex), std::string::npos) << line;
    EXPECT_EQ(line.find("targets/"), std::string::npos) << line;
    EXPECT_EQ(delegations().find("targets/"), std::string::npos);
}

TEST_F(TrustDockerConventionsTest, SignNewRepositoryRefusesUnusableUserName) {
    nlohmann::json config;
    config["auths"][m_registry.host()]["auth"] = "Sm9obi5Eb2U6cHc=";  // "John.Doe:pw"
    std::ofstream(docker_config() / "config.json") << config.dump();
    const ProcessResult sign = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "4"});
    EXPECT_EQ(sign.exit_code, 1) << describe(sign);
    EXPECT_NE(sign.err.find("\"John.Doe\""), std::string::npos) << sign.err;
    EXPECT_EQ(sign.err_lines(), 1u) << sign.err;
    EXPECT_EQ(server_version("root"), 0);  // nothing published
}

// --- signer remove: docker's confirmation ---

TEST_F(TrustDockerConventionsTest, SignerRemoveAsksBeforeLeavingReleasesUnsigned) {
    add_signer("alice");
    ASSERT_EQ(trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "5"}).exit_code, 0);
    const std::int64_t targets_version = server_version("targets");

    for (const std::string answer : {"n\n", "", "yes\n"}) {
        const ProcessResult no = signer_remove({"alice", gun()}, answer);
        EXPECT_EQ(no.exit_code, 1) << "answer \"" << answer << "\"\n" << describe(no);
        EXPECT_NE(no.out.find("The signer \"alice\" signed the last released version of " + gun() +
                              ". Removing this signer will make " + gun() +
                              " unpullable. Are you sure you want to continue? [y/N] "),
                  std::string::npos)
            << no.out;
        EXPECT_NE(no.err.find("not removed from " + gun()), std::string::npos) << no.err;
        EXPECT_EQ(no.err_lines(), 1u) << no.err;
    }
    // Nothing was published: same targets.json, the delegation still there (real notary CLI).
    EXPECT_EQ(server_version("targets"), targets_version);
    EXPECT_NE(delegations().find("targets/alice"), std::string::npos);
    EXPECT_NE(listed("v1", "targets/releases").find(kDigestHex), std::string::npos);

    const ProcessResult yes = signer_remove({"alice", gun()}, "y\n");
    ASSERT_EQ(yes.exit_code, 0) << describe(yes);
    EXPECT_NE(yes.out.find("Are you sure you want to continue? [y/N] "), std::string::npos) << yes.out;
    EXPECT_NE(yes.out.find("Successfully removed alice from " + gun()), std::string::npos) << yes.out;
    EXPECT_EQ(server_version("targets"), targets_version + 1);
    const std::string list = delegations();
    EXPECT_EQ(list.find("targets/alice"), std::string::npos) << list;
}

TEST_F(TrustDockerConventionsTest, SignerRemoveForceSkipsTheQuestion) {
    add_signer("bob");
    ASSERT_EQ(trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "5"}).exit_code, 0);
    const ProcessResult forced = signer_remove({"--force", "bob", gun()}, "");
    ASSERT_EQ(forced.exit_code, 0) << describe(forced);
    EXPECT_EQ(forced.out.find("[y/N]"), std::string::npos) << forced.out;
    EXPECT_EQ(delegations().find("targets/bob"), std::string::npos);
}

TEST_F(TrustDockerConventionsTest, SignerRemoveDoesNotAskWhenOthersStillSign) {
    add_signer("carol");
    add_signer("dave");
    // trustkeyd holds both keys: targets/releases gets a signature from each.
    ASSERT_EQ(trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "5"}).exit_code, 0);
    const ProcessResult r = signer_remove({"carol", gun()}, "");
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out.find("[y/N]"), std::string::npos) << r.out;
    const std::string list = delegations();
    EXPECT_EQ(list.find("targets/carol"), std::string::npos) << list;
    EXPECT_NE(list.find("targets/dave"), std::string::npos) << list;
    EXPECT_NE(listed("v1", "targets/releases").find(kDigestHex), std::string::npos);
}

// --- signer add --root-key ---

TEST_F(TrustDockerConventionsTest, SignerAddWithRootKeyUsesTheAgentKey) {
    const ProcessResult gen = m_daemon.trustkey({"key", "generate", "my-root"});
    ASSERT_EQ(gen.exit_code, 0) << describe(gen);
    const std::string root_id = trimmed(gen.out);
    ASSERT_EQ(trust({"key", "generate", "erin", "--dir", m_work.path().string()}).exit_code, 0);
    const std::string pub = (m_work / "erin.pub").string();

    // By name for one repository, by id prefix for another.
    const ProcessResult add = trust({"signer", "add", "--root-key", "my-root", "--key", pub, "erin", gun()});
    ASSERT_EQ(add.exit_code, 0) << describe(add);
    const ProcessResult other =
        trust({"signer", "add", "--root-key", root_id.substr(0, 12), "--key", pub, "erin", gun("team/other")});
    ASSERT_EQ(other.exit_code, 0) << describe(other);

    for (const std::string repo : {"team/app", "team/other"}) {
        // root.json lists one ecdsa-x509 root key: a certificate for the agent key.
        const ProcessResult root = m_notary.https_get("/v2/" + gun(repo) + "/_trust/tuf/root.json");
        ASSERT_EQ(root.exit_code, 0) << root.out;
        const auto signed_root = nlohmann::json::parse(root.out).at("signed");
        const auto& ids = signed_root.at("roles").at("root").at("keyids");
        ASSERT_EQ(ids.size(), 1u) << root.out;
        const std::string x509_id = ids[0].get<std::string>();
        const auto& key = signed_root.at("keys").at(x509_id);
        EXPECT_EQ(key.at("keytype"), "ecdsa-x509") << root.out;
        // The certificate holds the agent key: the canonical id of its public key (notary's
        // rule: the id of the plain ecdsa key) is the agent key's id.
        const auto cert_pem = from_base64(key.at("keyval").at("public").get<std::string>());
        ASSERT_TRUE(cert_pem.has_value());
        const std::string spki = cert_public_key_der(std::string(cert_pem->begin(), cert_pem->end()));
        ASSERT_FALSE(spki.empty());
        EXPECT_EQ(ecdsa_key_id(spki), root_id) << root.out;
        // The real docker CLI reads the repository and shows that root key.
        const nlohmann::json inspected = docker_inspect(gun(repo));
        ASSERT_TRUE(inspected.is_array() && inspected.size() == 1) << inspected.dump();
        std::string docker_root_id;
        for (const auto& admin : inspected[0].at("AdministrativeKeys"))
            if (admin.at("Name") == "Root") docker_root_id = admin.at("Keys").at(0).at("ID").get<std::string>();
        EXPECT_EQ(docker_root_id, x509_id) << inspected.dump();
        // The real notary CLI reads the repository (no tags yet).
        const ProcessResult list = m_notary.run_notary(m_work / ("notary-list-" + std::to_string(++m_runs)),
                                                       {"list", gun(repo)});
        EXPECT_EQ(list.exit_code, 0) << describe(list);
        EXPECT_NE(delegations(repo).find("targets/erin"), std::string::npos);
    }

    // An initialized repository keeps its root key; the flag is reported as unused.
    const ProcessResult again = trust({"signer", "add", "--root-key", "my-root", "--key", pub, "frank", gun()});
    ASSERT_EQ(again.exit_code, 0) << describe(again);
    EXPECT_NE(again.err.find("--root-key my-root not used"), std::string::npos) << again.err;
}

TEST_F(TrustDockerConventionsTest, SignerAddWithUnusableRootKeyFails) {
    ASSERT_EQ(trust({"key", "generate", "gail", "--dir", m_work.path().string()}).exit_code, 0);
    const std::string pub = (m_work / "gail.pub").string();

    const ProcessResult missing = trust({"signer", "add", "--root-key", "no-such-key", "--key", pub, "gail", gun()});
    EXPECT_EQ(missing.exit_code, 1) << describe(missing);
    EXPECT_NE(missing.err.find("no-such-key"), std::string::npos) << missing.err;
    EXPECT_EQ(missing.err_lines(), 1u) << missing.err;

    ASSERT_EQ(m_daemon.trustkey({"key", "generate", "--type", "ed25519", "ed-root"}).exit_code, 0);
    const ProcessResult ed = trust({"signer", "add", "--root-key", "ed-root", "--key", pub, "gail", gun()});
    EXPECT_EQ(ed.exit_code, 1) << describe(ed);
    EXPECT_NE(ed.err.find("\"ed-root\""), std::string::npos) << ed.err;
    EXPECT_NE(ed.err.find("ecdsa"), std::string::npos) << ed.err;
    EXPECT_EQ(ed.err_lines(), 1u) << ed.err;

    EXPECT_EQ(server_version("root"), 0);  // no repository was created
}

// --- sign --from-file: a list of tags ---

TEST_F(TrustDockerConventionsTest, SignFromFileListsManyTagsInOnePublish) {
    write_registry_credentials();
    add_signer("hank");
    ASSERT_EQ(trust({"sign", image("first"), "--digest", "sha256:" + kDigestHex, "--size", "1"}).exit_code, 0);
    const std::int64_t releases_version = server_version("targets/releases");
    ASSERT_EQ(releases_version, 1);

    const PushedImage pushed = m_registry.push_image("team/app", "from-registry");
    std::string list = "# release list\n\n";
    for (int i = 0; i < 50; ++i)
        list += fmt::format("{} sha256:{} {}\n", image("t" + std::to_string(i)), digest_hex(i), 100 + i);
    list += "   \n" + image("from-registry") + "\n";  // no digest: resolved in the registry
    const fs::path file = write_file("tags.txt", list);

    const ProcessResult sign = trust({"sign", "--from-file", file.string()});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(sign.out.find("Successfully signed " + image("t49")), std::string::npos) << sign.out;
    EXPECT_EQ(server_version("targets/releases"), releases_version + 1);  // one publish

    const std::string all = notary({"list", gun(), "--roles", "targets/releases"});
    for (int i = 0; i < 50; ++i) {
        const std::string line = listed("t" + std::to_string(i), "targets/releases");
        EXPECT_NE(line.find(digest_hex(i)), std::string::npos) << i << ": " << line;
        EXPECT_NE(line.find(" " + std::to_string(100 + i) + " "), std::string::npos) << i << ": " << line;
    }
    EXPECT_NE(all.find(pushed.digest.substr(7)), std::string::npos) << all;

    // "-" reads the list from stdin; arguments and the list go together.
    ProcessOptions in;
    in.stdin_data = image("stdin-tag") + " sha256:" + digest_hex(99) + " 7\n";
    const ProcessResult piped =
        trust({"sign", image("arg-tag"), "--digest", "sha256:" + kDigestHex, "--size", "8", "--from-file", "-"}, in);
    ASSERT_EQ(piped.exit_code, 0) << describe(piped);
    EXPECT_EQ(server_version("targets/releases"), releases_version + 2);
    EXPECT_NE(listed("stdin-tag").find(digest_hex(99)), std::string::npos);
    EXPECT_NE(listed("arg-tag").find(kDigestHex), std::string::npos);
}

TEST_F(TrustDockerConventionsTest, SignFromFileRefusesMalformedLines) {
    add_signer("ivy");
    ASSERT_EQ(trust({"sign", image("first"), "--digest", "sha256:" + kDigestHex, "--size", "1"}).exit_code, 0);
    const std::int64_t releases_version = server_version("targets/releases");
    const std::string good = image("ok1") + " sha256:" + digest_hex(1) + " 10\n# comment\n" + image("ok2") + "\n";
    const std::vector<std::pair<std::string, std::string>> bad_lines = {
        {image("x") + " sha256:" + digest_hex(2), "found 2 field(s)"},
        {image("x") + " sha256:zz 5", "digest \"sha256:zz\""},
        {image("x") + " md5:" + digest_hex(2) + " 5", "expected sha256:"},
        {image("x") + " sha256:" + digest_hex(2) + " -5", "size \"-5\""},
        {image() + " sha256:" + digest_hex(2) + " 5", "names no tag"},
        {"Not A Reference", "invalid image reference \"Not\""},
        {image() + "/Upper:tag", "invalid image reference"},
    };
    int n = 0;
    for (const auto& [line, why] : bad_lines) {
        const fs::path file = write_file("bad" + std::to_string(++n) + ".txt", good + line + "\n" + image("ok3") + "\n");
        const ProcessResult r = trust({"sign", "--from-file", file.string()});
        EXPECT_EQ(r.exit_code, 2) << line << "\n" << describe(r);
        EXPECT_NE(r.err.find(file.string() + ":4: "), std::string::npos) << line << "\n" << r.err;
        EXPECT_NE(r.err.find(why), std::string::npos) << line << "\n" << r.err;
        EXPECT_EQ(r.err_lines(), 1u) << r.err;
    }
    EXPECT_EQ(server_version("targets/releases"), releases_version);  // nothing published
    EXPECT_EQ(listed("ok1"), "");

    // A manifest is no tag list: --manifest hashes one.
    const PushedImage pushed = m_registry.push_image("team/app", "m");
    const fs::path manifest = write_file("manifest.json", pushed.manifest);
    const ProcessResult wrong = trust({"sign", "--from-file", manifest.string()});
    EXPECT_EQ(wrong.exit_code, 2) << describe(wrong);
    EXPECT_NE(wrong.err.find(manifest.string() + ":1: "), std::string::npos) << wrong.err;
    const ProcessResult right = trust({"sign", image("m"), "--manifest", manifest.string()});
    ASSERT_EQ(right.exit_code, 0) << describe(right);
    const std::string line = listed("m");
    EXPECT_NE(line.find(pushed.digest.substr(7)), std::string::npos) << line;
    EXPECT_NE(line.find(" " + std::to_string(pushed.size) + " "), std::string::npos) << line;

    EXPECT_EQ(trust({"sign", "--from-file", write_file("empty.txt", "# nothing\n").string()}).exit_code, 2);
    EXPECT_EQ(trust({"sign"}).exit_code, 2);
}

} // namespace
} // namespace trustkey::test
