// The publishing verbs' guards, as the real trustkey binary against a real trustkeyd,
// notary server and registry: `revoke REPO` asks first (at a real terminal), a
// repository this trust directory trusts is not initialized anew without
// --force-init, the keys of a failed or interrupted initialization are removed again,
// `--insecure-registry` takes one host per occurrence and every verb's --help lists
// the trust-wide options, and `key generate --dir` checks the directory first.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/pty_process.h"
#include "tests/fixtures/tampering_proxy.h"
#include "tests/tools/trustkey/trust/trust_verbs_fixture.h"

namespace trustkey::test {
namespace {

using namespace std::chrono_literals;

const std::string kDigest = "sha256:" + std::string(64, 'c');

// Every file under `dir`, relative path -> bytes (empty when `dir` does not exist).
std::map<std::string, std::string> tree(const std::filesystem::path& dir) {
    std::map<std::string, std::string> out;
    if (!std::filesystem::exists(dir)) return out;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
        if (entry.is_regular_file())
            out.emplace(std::filesystem::relative(entry.path(), dir).string(), read_file(entry.path()));
    return out;
}

class TrustPublishGuardTest : public TrustVerbsFixture {
protected:
    // `trustkey trust` with `server` (and its CA) instead of the fixture's notary server.
    ProcessResult trust_via(const std::string& server, const std::filesystem::path& ca,
                            const std::vector<std::string>& args) const {
        std::vector<std::string> full{"trust", "--server", server, "--tlscacert", ca.string(),
                                      "--insecure-registry", m_registry.host()};
        full.insert(full.end(), args.begin(), args.end());
        ProcessOptions o;
        o.env.push_back("DOCKER_CONFIG=" + docker_config().string());
        o.unset.push_back("DOCKER_CONTENT_TRUST_SERVER");
        return m_daemon.trustkey(full, o);
    }

    // `trustkey trust … args` on a terminal of its own.
    std::unique_ptr<PtyProcess> trust_on_terminal(const std::string& server, const std::filesystem::path& ca,
                                                  const std::vector<std::string>& args) const {
        std::vector<std::string> argv{trustkey_cli_path(), "--socket", m_daemon.socket_path().string(), "trust",
                                      "--server", server, "--tlscacert", ca.string(),
                                      "--insecure-registry", m_registry.host()};
        argv.insert(argv.end(), args.begin(), args.end());
        PtyOptions o;
        o.env.push_back("DOCKER_CONFIG=" + docker_config().string());
        o.unset = {"DOCKER_CONTENT_TRUST_SERVER", "TRUSTKEY_SOCK"};
        return std::make_unique<PtyProcess>(argv, o);
    }

    // The keys trustkeyd holds, as `trustkey key list` prints them.
    std::string key_list() const {
        const ProcessResult r = m_daemon.trustkey({"key", "list"});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        return r.out;
    }

    std::filesystem::path cache() const { return docker_config() / "trust" / "tuf" / gun() / "metadata"; }

    void sign_tags(const std::vector<std::string>& tags) {
        std::vector<std::string> args{"sign"};
        for (const auto& tag : tags) args.push_back(image(tag));
        args.insert(args.end(), {"--digest", kDigest, "--size", "5"});
        const ProcessResult r = trust(args);
        ASSERT_EQ(r.exit_code, 0) << describe(r);
        for (const auto& tag : tags) ASSERT_NE(listed(tag), "") << tag;
    }

    // Revokes the whole repository at a terminal, typing `answer` at the question.
    std::string revoke_answering(const std::string& answer, int expected_exit = 0) {
        auto run = trust_on_terminal(m_notary.url(), m_notary.ca_cert_path(), {"revoke", gun()});
        const std::string question = "Confirm you would like to delete all signature data for " + gun() + "? [y/N] ";
        EXPECT_TRUE(run->wait_for(question, 30s)) << run->output();
        run->type(answer + "\n");
        EXPECT_EQ(run->wait_exit(60s), expected_exit) << run->output();
        return run->output();
    }
};

// --- trust revoke REPO: docker's question ---

TEST_F(TrustPublishGuardTest, RevokeAllAnsweredNoAtATerminalKeepsEverySignature) {
    sign_tags({"a", "b"});
    const std::string out = revoke_answering("n");
    EXPECT_NE(out.find("Aborting action."), std::string::npos) << out;
    EXPECT_EQ(out.find("Successfully"), std::string::npos) << out;
    EXPECT_NE(listed("a"), "");
    EXPECT_NE(listed("b"), "");
}

TEST_F(TrustPublishGuardTest, RevokeAllAnsweredYesAtATerminalDeletesEverySignature) {
    sign_tags({"a", "b"});
    const std::string out = revoke_answering("y");
    EXPECT_NE(out.find("Successfully deleted signature for " + gun()), std::string::npos) << out;
    EXPECT_EQ(listed("a"), "");
    EXPECT_EQ(listed("b"), "");
}

TEST_F(TrustPublishGuardTest, RevokeAllWithoutInputDeletesNothing) {
    sign_tags({"a"});
    const ProcessResult r = trust({"revoke", gun()});  // stdin: no data, then end of input
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_NE(r.out.find("Confirm you would like to delete all signature data for " + gun() + "? [y/N]"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("Aborting action."), std::string::npos) << r.out;
    EXPECT_NE(listed("a"), "");
}

TEST_F(TrustPublishGuardTest, RevokeAllWithYesDoesNotAsk) {
    sign_tags({"a"});
    const ProcessResult r = trust({"revoke", "--yes", gun()});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out.find("Confirm"), std::string::npos) << r.out;
    EXPECT_EQ(listed("a"), "");

    sign_tags({"b"});
    const ProcessResult short_form = trust({"revoke", "-y", gun()});
    ASSERT_EQ(short_form.exit_code, 0) << describe(short_form);
    EXPECT_EQ(listed("b"), "");
}

TEST_F(TrustPublishGuardTest, RevokeOfOneTagDoesNotAsk) {
    sign_tags({"a", "b"});
    const ProcessResult r = trust({"revoke", image("a")});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out.find("Confirm"), std::string::npos) << r.out;
    EXPECT_EQ(listed("a"), "");
    EXPECT_NE(listed("b"), "");
}

// --- a repository this trust directory trusts, lost by the server ---

TEST_F(TrustPublishGuardTest, LostRepositoryIsNotInitializedAnewWithoutForceInit) {
    sign_tags({"v1"});
    const auto cached = tree(cache());
    ASSERT_EQ(cached.count("root.json"), 1u);
    notary({"delete", gun(), "--remote"});
    ASSERT_NE(m_notary.https_get("/v2/" + gun() + "/_trust/tuf/root.json").exit_code, 0);
    const std::string keys = key_list();
    make_self_signed_ec_cert(m_work / "eve.key", m_work / "eve.crt", "eve");

    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"sign", image("v2"), "--digest", kDigest, "--size", "6"},
          std::vector<std::string>{"signer", "add", "--key", (m_work / "eve.crt").string(), "eve", gun()}}) {
        const ProcessResult r = trust(args);
        EXPECT_EQ(r.exit_code, 1) << describe(r);
        EXPECT_EQ(r.err_lines(), 1u) << r.err;
        EXPECT_NE(r.err.find("has no trust data for " + gun() + ", a repository this machine trusts"),
                  std::string::npos)
            << r.err;
        EXPECT_NE(r.err.find("--force-init"), std::string::npos) << r.err;
        EXPECT_EQ(r.out.find("Initializing"), std::string::npos) << r.out;
        // Nothing published, the cache and trustkeyd's keys as they were.
        EXPECT_NE(m_notary.https_get("/v2/" + gun() + "/_trust/tuf/root.json").exit_code, 0);
        EXPECT_EQ(tree(cache()), cached);
        EXPECT_EQ(key_list(), keys);
    }

    const ProcessResult forced = trust({"sign", "--force-init", image("v2"), "--digest", kDigest, "--size", "6"});
    ASSERT_EQ(forced.exit_code, 0) << describe(forced);
    EXPECT_NE(forced.out.find("Initializing signed repository for " + gun()), std::string::npos) << forced.out;
    EXPECT_NE(listed("v2"), "");
    const auto now = tree(cache());
    ASSERT_EQ(now.count("root.json"), 1u);
    EXPECT_NE(now.at("root.json"), cached.at("root.json"));
    EXPECT_EQ(now.at("root.json"), m_notary.https_get("/v2/" + gun() + "/_trust/tuf/root.json").out);
}

// --- keys of a failed initialization ---

TEST_F(TrustPublishGuardTest, RefusedInitializationRemovesTheKeysItMadeOnly) {
    TamperingProxy proxy({.upstream = m_notary.url(), .upstream_ca = m_notary.ca_cert_path()});
    proxy.set_rules({TamperRule{.method = "POST", .action = TamperRule::Action::status, .status = 500}});
    // A root key given with --root-key existed before and stays.
    const ProcessResult own = trust({"key", "generate", "own-root", "--dir", m_work.path().string()});
    ASSERT_EQ(own.exit_code, 0) << describe(own);
    make_self_signed_ec_cert(m_work / "eve.key", m_work / "eve.crt", "eve");
    const std::string keys = key_list();

    const ProcessResult add = trust_via(proxy.url(), proxy.ca_cert_path(),
                                        {"signer", "add", "--key", (m_work / "eve.crt").string(), "--root-key",
                                         "own-root", "eve", gun()});
    EXPECT_EQ(add.exit_code, 1) << describe(add);
    EXPECT_EQ(key_list(), keys);

    const ProcessResult sign =
        trust_via(proxy.url(), proxy.ca_cert_path(), {"sign", image("v1"), "--digest", kDigest, "--size", "6"});
    EXPECT_EQ(sign.exit_code, 1) << describe(sign);
    EXPECT_NE(sign.out.find("Initializing signed repository"), std::string::npos) << sign.out;
    EXPECT_EQ(key_list(), keys);
    EXPECT_GE(proxy.tampered_requests(), 2u) << proxy.log_tail();
    EXPECT_NE(m_notary.https_get("/v2/" + gun() + "/_trust/tuf/root.json").exit_code, 0);

    // The same sign straight to the server keeps the keys it made for the repository.
    const ProcessResult direct = trust({"sign", image("v1"), "--digest", kDigest, "--size", "6"});
    ASSERT_EQ(direct.exit_code, 0) << describe(direct);
    EXPECT_NE(key_list(), keys);
}

TEST_F(TrustPublishGuardTest, InterruptedSignSaysSoAndRemovesTheKeysItMade) {
    TamperingProxy proxy({.upstream = m_notary.url(), .upstream_ca = m_notary.ca_cert_path()});
    proxy.set_rules({TamperRule{.method = "POST", .action = TamperRule::Action::stall, .status = 500,
                                .stall_seconds = 120}});
    const std::string keys = key_list();
    auto run = trust_on_terminal(proxy.url(), proxy.ca_cert_path(),
                                 {"sign", image("v1"), "--digest", kDigest, "--size", "6"});
    // The upload has reached the (stalled) server: the keys are made, nothing is published.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (read_file(proxy.log_path()).find("-> stalled") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
    ASSERT_NE(read_file(proxy.log_path()).find("-> stalled"), std::string::npos) << proxy.log_tail() << run->output();
    EXPECT_NE(key_list(), keys);

    const auto typed = std::chrono::steady_clock::now();
    run->interrupt();
    EXPECT_EQ(run->wait_exit(30s), 1) << run->output();
    EXPECT_LT(std::chrono::steady_clock::now() - typed, 20s);
    EXPECT_NE(run->output().find("trustkey: interrupted while signing " + gun()), std::string::npos)
        << run->output();
    EXPECT_EQ(key_list(), keys);
    EXPECT_NE(m_notary.https_get("/v2/" + gun() + "/_trust/tuf/root.json").exit_code, 0);
}

// --- options ---

TEST_F(TrustPublishGuardTest, InsecureRegistryTakesOneHostBeforeTheImage) {
    write_registry_credentials();
    const PushedImage one = m_registry.push_image("team/app", "one");
    const PushedImage two = m_registry.push_image("team/app", "two");
    const std::vector<std::string> server{"trust", "--server", m_notary.url(), "--tlscacert",
                                          m_notary.ca_cert_path().string()};
    ProcessOptions o;
    o.env.push_back("DOCKER_CONFIG=" + docker_config().string());
    o.unset.push_back("DOCKER_CONTENT_TRUST_SERVER");

    std::vector<std::string> spaced = server;
    spaced.insert(spaced.end(), {"sign", "--insecure-registry", m_registry.host(), image("one")});
    const ProcessResult a = m_daemon.trustkey(spaced, o);
    ASSERT_EQ(a.exit_code, 0) << describe(a);
    EXPECT_NE(listed("one").find(one.digest.substr(7)), std::string::npos);

    std::vector<std::string> joined = server;
    joined.insert(joined.end(), {"sign", "--insecure-registry=" + m_registry.host(), image("two")});
    const ProcessResult b = m_daemon.trustkey(joined, o);
    ASSERT_EQ(b.exit_code, 0) << describe(b);
    EXPECT_NE(listed("two").find(two.digest.substr(7)), std::string::npos);
}

TEST(TrustVerbHelp, EveryVerbListsTheTrustWideOptions) {
    const std::vector<std::vector<std::string>> verbs{
        {"inspect"},         {"verify"},          {"sign"},           {"revoke"},
        {"signer", "add"},   {"signer", "remove"}, {"key", "generate"}, {"key", "load"},
        {"key", "rotate"},   {"key", "prepare-root"}};
    for (const auto& verb : verbs) {
        std::vector<std::string> args{"trust"};
        args.insert(args.end(), verb.begin(), verb.end());
        args.push_back("--help");
        const ProcessResult r = run_trustkey(args);
        EXPECT_EQ(r.exit_code, 0) << verb.back() << "\n" << r.out << r.err;
        for (const std::string option : {"--server", "--tlscacert", "--insecure-registry", "--trust-dir"})
            EXPECT_NE(r.out.find(option), std::string::npos) << verb.back() << " lacks " << option << ":\n" << r.out;
    }
}

// --- trust key generate --dir ---

TEST_F(TrustPublishGuardTest, KeyGenerateChecksTheDirectoryBeforeMakingAKey) {
    const std::string keys = key_list();
    const std::string dir = m_work.path().string() + "/./keys";
    const ProcessResult missing = trust({"key", "generate", "alice", "--dir", dir});
    EXPECT_EQ(missing.exit_code, 1) << describe(missing);
    EXPECT_EQ(missing.err_lines(), 1u) << missing.err;
    EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
    EXPECT_EQ(key_list(), keys);

    std::ofstream(m_work / "file") << "x";
    const ProcessResult file = trust({"key", "generate", "alice", "--dir", (m_work / "file").string()});
    EXPECT_EQ(file.exit_code, 1) << describe(file);
    EXPECT_NE(file.err.find("not a directory"), std::string::npos) << file.err;
    EXPECT_EQ(key_list(), keys);

    std::filesystem::create_directory(m_work / "keys");
    const ProcessResult made = trust({"key", "generate", "alice", "--dir", dir});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
    const std::string clean = (m_work / "keys" / "alice.pub").string();
    EXPECT_NE(made.out.find("Corresponding public key available: " + clean + "\n"), std::string::npos) << made.out;
    EXPECT_EQ(made.out.find("/./"), std::string::npos) << made.out;
    EXPECT_TRUE(std::filesystem::exists(clean));
}

} // namespace
} // namespace trustkey::test
