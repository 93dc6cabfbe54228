// Delegation keys held in a TPM (a real swtpm behind `trustkeyd --tpm`) sign TUF
// metadata through `trustkey trust sign`, and the real notary CLI accepts it; with
// `--backend tpm` the trust verbs put the keys they make (root, targets, signers) there.
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/registry_server.h"
#include "tests/fixtures/swtpm.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {
namespace {

const std::string kDigestHex(64, 'b');

std::string describe(const ProcessResult& r) {
    return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

class TrustTpmTest : public ::testing::Test {
protected:
    static CliDaemon::Options with_tpm(const Swtpm& tpm) {
        CliDaemon::Options o;
        o.args = {"--tpm", tpm.tcti()};
        return o;
    }
    std::string image(const std::string& tag = {}, const std::string& repo = "tpm-app") const {
        return m_registry.host() + "/team/" + repo + (tag.empty() ? "" : ":" + tag);
    }
    // Whether the real notary client lists `tag` with kDigestHex in `role` of `gun`.
    bool notary_lists(const std::string& gun, const std::string& role, const std::string& tag) {
        const std::string out = notary({"list", gun, "--roles", role});
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);)
            if (line.rfind(tag + " ", 0) == 0 && line.find(kDigestHex) != std::string::npos) return true;
        ADD_FAILURE() << "notary list " << gun << " --roles " << role << ":\n" << out;
        return false;
    }
    // trustkeyd's keys by name: {id, backend}.
    std::map<std::string, std::pair<std::string, std::string>> agent_keys() const {
        const ProcessResult r = m_daemon.trustkey({"key", "list", "--json"});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        std::map<std::string, std::pair<std::string, std::string>> keys;
        for (const auto& k : nlohmann::json::parse(r.out)) keys[k["name"]] = {k["id"], k["backend"]};
        return keys;
    }
    // The key ids root.json lists for `role`, from the trust cache the verbs keep.
    std::vector<std::string> cached_role_keys(const std::string& gun, const std::string& role) const {
        const auto root = nlohmann::json::parse(
            read_file(m_work / "docker" / "trust" / "tuf" / gun / "metadata" / "root.json"));
        return root["signed"]["roles"][role]["keyids"].get<std::vector<std::string>>();
    }
    ProcessResult trust(std::vector<std::string> args) const {
        std::vector<std::string> full{"trust", "--server", m_notary.url(), "--tlscacert",
                                      m_notary.ca_cert_path().string(), "--insecure-registry", m_registry.host()};
        full.insert(full.end(), args.begin(), args.end());
        ProcessOptions o;
        o.env.push_back("DOCKER_CONFIG=" + (m_work / "docker").string());
        o.unset.push_back("DOCKER_CONTENT_TRUST_SERVER");
        return m_daemon.trustkey(full, o);
    }
    std::string notary(const std::vector<std::string>& args) {
        const ProcessResult r = m_notary.run_notary(m_work / ("notary-" + std::to_string(++m_runs)), args);
        EXPECT_EQ(r.exit_code, 0) << describe(r) << m_notary.log_tail(10);
        return r.out;
    }
    // A signer whose key is generated in the TPM; its public key file as docker writes it.
    void add_tpm_signer(const std::string& name, const std::string& type) {
        const ProcessResult gen = m_daemon.trustkey({"key", "generate", name, "--type", type, "--backend", "tpm"});
        ASSERT_EQ(gen.exit_code, 0) << describe(gen);
        const ProcessResult pub = m_daemon.trustkey({"key", "public", name});
        ASSERT_EQ(pub.exit_code, 0) << describe(pub);
        const auto eol = pub.out.find('\n');
        const auto file = m_work / (name + ".pub");
        write_file(file, pub.out.substr(0, eol + 1) + "role: " + name + "\n\n" + pub.out.substr(eol + 1));
        const ProcessResult add = trust({"signer", "add", "--key", file.string(), name, image()});
        ASSERT_EQ(add.exit_code, 0) << describe(add);
    }

    Swtpm m_tpm;
    NotaryServer m_notary;
    RegistryServer m_registry;
    CliDaemon m_daemon{with_tpm(m_tpm)};
    TempDir m_work{"trustkey-trust-tpm"};
    int m_runs = 0;
};

TEST_F(TrustTpmTest, TpmDelegationKeysSignWhatNotaryAccepts) {
    add_tpm_signer("alice", "ecdsa");
    add_tpm_signer("bob", "rsa");
    const ProcessResult sign = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "4321"});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);

    // The real notary client downloads and verifies the chain, including the roles the
    // TPM keys signed (ECDSA P-256 and RSA-PSS 2048).
    for (const std::string role : {"targets/releases", "targets/alice", "targets/bob"}) {
        const std::string out = notary({"list", image(), "--roles", role});
        bool found = false;
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);)
            if (line.rfind("v1 ", 0) == 0 && line.find(kDigestHex) != std::string::npos) found = true;
        EXPECT_TRUE(found) << role << ":\n" << out;
    }
    // The signatures on targets/alice are by the TPM key: the key ids match.
    const ProcessResult keys = m_daemon.trustkey({"key", "list"});
    ASSERT_EQ(keys.exit_code, 0) << describe(keys);
    std::istringstream rows(keys.out);
    int on_tpm = 0;
    for (std::string row; std::getline(rows, row);)
        if ((row.find(" alice ") != std::string::npos || row.find(" bob ") != std::string::npos) &&
            row.find(" tpm ") != std::string::npos)
            ++on_tpm;
    EXPECT_EQ(on_tpm, 2) << keys.out;
}

TEST_F(TrustTpmTest, RepositoryKeysMadeByTheTrustVerbsGoToTheChosenBackend) {
    // A signer key made with `trust key generate --backend tpm`, written as docker writes NAME.pub.
    const ProcessResult gen =
        trust({"key", "generate", "carol", "--backend", "tpm", "--dir", m_work.path().string()});
    ASSERT_EQ(gen.exit_code, 0) << describe(gen);
    // `signer add --backend tpm` initializes the repository with its root and targets keys on the TPM.
    const ProcessResult add = trust({"signer", "add", "--backend", "tpm", "--key", (m_work / "carol.pub").string(),
                                     "carol", image()});
    ASSERT_EQ(add.exit_code, 0) << describe(add);
    ASSERT_NE(add.out.find("Successfully initialized"), std::string::npos) << describe(add);
    const ProcessResult sign = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "4321"});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    // `sign --backend tpm` initializing a second repository (no registry user: tags go into targets).
    const ProcessResult sign2 = trust({"sign", "--backend", "tpm", image("v2", "tpm-other"), "--digest",
                                       "sha256:" + kDigestHex, "--size", "4321"});
    ASSERT_EQ(sign2.exit_code, 0) << describe(sign2);

    // The real notary client verifies the chains: root, targets and the delegation, all signed in the TPM.
    EXPECT_TRUE(notary_lists(image(), "targets/carol", "v1"));
    EXPECT_TRUE(notary_lists(image(), "targets/releases", "v1"));
    EXPECT_TRUE(notary_lists(image("", "tpm-other"), "targets", "v2"));

    auto keys = agent_keys();
    // carol, and a root and a targets key per repository; every one of them on the TPM.
    int roots = 0;
    for (const auto& [name, key] : keys) {
        EXPECT_EQ(key.second, "tpm") << name;
        if (name.rfind("root-", 0) == 0) ++roots;
    }
    EXPECT_EQ(roots, 2);
    EXPECT_EQ(keys.size(), 5U);
    ASSERT_TRUE(keys.contains("carol"));
    std::map<std::string, std::string> backend_of_id;
    for (const auto& [name, key] : keys) backend_of_id[key.first] = key.second;
    for (const std::string& repo : {image(), image("", "tpm-other")}) {
        const auto targets = cached_role_keys(repo, "targets");
        ASSERT_EQ(targets.size(), 1U) << repo;
        EXPECT_EQ(backend_of_id[targets[0]], "tpm") << repo << " targets key " << targets[0];
    }

    // `key rotate --backend tpm`: the new targets key is made in the TPM, and what it re-signed verifies.
    const ProcessResult rotate = trust({"key", "rotate", image(), "targets", "--backend", "tpm"});
    ASSERT_EQ(rotate.exit_code, 0) << describe(rotate);
    const auto rotated = cached_role_keys(image(), "targets");
    ASSERT_EQ(rotated.size(), 1U);
    keys = agent_keys();
    backend_of_id.clear();
    for (const auto& [name, key] : keys) backend_of_id[key.first] = key.second;
    EXPECT_EQ(backend_of_id[rotated[0]], "tpm") << rotated[0];
    EXPECT_TRUE(notary_lists(image(), "targets/releases", "v1"));

    // `trust key load --backend tpm` moves an existing signer key into the TPM.
    const auto key_file = m_work / "dave.key";
    ASSERT_EQ(run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                           key_file.string()})
                  .exit_code,
              0);
    std::filesystem::permissions(key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const ProcessResult load = trust({"key", "load", key_file.string(), "--name", "dave", "--backend", "tpm"});
    ASSERT_EQ(load.exit_code, 0) << describe(load);
    keys = agent_keys();
    ASSERT_TRUE(keys.contains("dave"));
    EXPECT_EQ(keys["dave"].second, "tpm");
}

TEST_F(TrustTpmTest, BackendCannotGoWithAKeyTheRotationReuses) {
    const ProcessResult r =
        trust({"key", "rotate", image(), "snapshot", "--server-managed", "--backend", "tpm"});
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_NE(r.err.find("--backend tpm"), std::string::npos) << r.err;
    const ProcessResult gen = trust({"key", "generate", "erin", "--backend", "nosuch", "--dir", m_work.path().string()});
    EXPECT_EQ(gen.exit_code, 1) << describe(gen);
    EXPECT_NE(gen.err.find("nosuch"), std::string::npos) << gen.err;
    EXPECT_FALSE(std::filesystem::exists(m_work / "erin.pub"));
}

} // namespace
} // namespace trustkey::test
