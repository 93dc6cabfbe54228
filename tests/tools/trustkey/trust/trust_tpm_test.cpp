// Delegation keys held in a TPM (a real swtpm behind `trustkeyd --tpm`) sign TUF
// metadata through `trustkey trust sign`, and the real notary CLI accepts it.
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

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
    std::string image(const std::string& tag = {}) const {
        return m_registry.host() + "/team/tpm-app" + (tag.empty() ? "" : ":" + tag);
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
            row.size() >= 4 && row.compare(row.size() - 4, 4, " tpm") == 0)
            ++on_tpm;
    EXPECT_EQ(on_tpm, 2) << keys.out;
}

} // namespace
} // namespace trustkey::test
