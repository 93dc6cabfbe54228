// trustkey as a docker CLI plugin, through Debian's real docker CLI (docker.io 20.10,
// /usr/bin/docker; no engine needed) with a DOCKER_CONFIG of the test's own: the plugin
// offers the `docker trust` verbs (sign goes to `trust sign` against the real notary server
// and registry), its help lists them, and install-docker-plugin leaves docker-trust out
// where docker has a builtin `trust` command, so `docker info` has nothing to complain of.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/tools/trustkey/trust/trust_verbs_fixture.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDocker = "/usr/bin/docker";

class DockerPluginTest : public TrustVerbsFixture {
protected:
    fs::path plugins() const { return docker_config() / "cli-plugins"; }

    ProcessOptions docker_options() const {
        ProcessOptions o;
        o.env = {"DOCKER_CONFIG=" + docker_config().string(), "HOME=" + m_work.path().string(),
                 "TRUSTKEY_SOCK=" + m_daemon.socket_path().string(), "DOCKER_CONTENT_TRUST_SERVER=" + m_notary.url()};
        o.unset = {"DOCKER_HOST", "DOCKER_CONTEXT"};
        return o;
    }

    ProcessResult install(std::vector<std::string> args = {}) const {
        std::vector<std::string> argv{trustkey_cli_path(), "install-docker-plugin"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_process(argv, docker_options());
    }

    ProcessResult docker(const std::vector<std::string>& args) const {
        std::vector<std::string> argv{kDocker};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_process(argv, docker_options());
    }

    // The notary server's CA where docker (and trustkey) look for it.
    void trust_notary_ca() const {
        const fs::path dir = docker_config() / "tls" / ("127.0.0.1:" + std::to_string(m_notary.port()));
        fs::create_directories(dir);
        fs::copy_file(m_notary.ca_cert_path(), dir / "ca.crt", fs::copy_options::overwrite_existing);
    }

    // A docker CLI whose help lists no builtin trust command (as docker 29, where trust
    // is a plugin).
    fs::path docker_without_trust() const {
        const fs::path script = m_work / "docker-29";
        std::ofstream(script) << "#!/bin/sh\n"
                                 "printf 'Usage:  docker [OPTIONS] COMMAND\\n\\nManagement Commands:\\n"
                                 "  image       Manage images\\n  trust*      Docker Content Trust (trust, 1)\\n'\n";
        fs::permissions(script, fs::perms::owner_all);
        return script;
    }
};

TEST_F(DockerPluginTest, InstallLeavesDockerTrustOutWhereDockerHasItBuiltin) {
    // An earlier install's docker-trust link, which docker 20.10 rejects on every run.
    fs::create_directories(plugins());
    fs::create_symlink(trustkey_cli_path(), plugins() / "docker-trust");
    const ProcessResult before = docker({"info"});
    ASSERT_NE((before.out + before.err).find("duplicates builtin command"), std::string::npos) << describe(before);

    const ProcessResult r = install({"--docker", kDocker});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(fs::is_symlink(plugins() / "docker-trustkey"));
    EXPECT_FALSE(fs::exists(fs::symlink_status(plugins() / "docker-trust")));
    EXPECT_NE(r.out.find("removed " + (plugins() / "docker-trust").string()), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("docker-trust not installed: /usr/bin/docker has a builtin trust command"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("--trust-plugin=yes"), std::string::npos) << r.out;

    const ProcessResult info = docker({"info"});
    EXPECT_EQ(info.out.find("duplicates builtin command"), std::string::npos) << info.out;
    EXPECT_EQ(info.err.find("duplicates builtin command"), std::string::npos) << info.err;
    EXPECT_NE(info.out.find("trustkey"), std::string::npos) << info.out;  // the plugin docker lists

    // The docker first in PATH is asked when --docker is not given; it has trust builtin too.
    const ProcessResult again = install();
    ASSERT_EQ(again.exit_code, 0) << describe(again);
    EXPECT_FALSE(fs::exists(fs::symlink_status(plugins() / "docker-trust")));
    EXPECT_NE(again.out.find("docker-trust not installed: docker has a builtin trust command"), std::string::npos)
        << again.out;
}

TEST_F(DockerPluginTest, InstallAddsDockerTrustWhereDockerHasNoBuiltin) {
    const ProcessResult r = install({"--docker", docker_without_trust().string()});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(fs::is_symlink(plugins() / "docker-trustkey"));
    EXPECT_TRUE(fs::is_symlink(plugins() / "docker-trust"));
    EXPECT_EQ(r.out.find("not installed"), std::string::npos) << r.out;

    // The flag decides over the docker CLI's answer, both ways.
    const ProcessResult no = install({"--docker", docker_without_trust().string(), "--trust-plugin", "no"});
    ASSERT_EQ(no.exit_code, 0) << describe(no);
    EXPECT_FALSE(fs::exists(fs::symlink_status(plugins() / "docker-trust")));
    EXPECT_NE(no.out.find("docker-trust not installed: --trust-plugin=no"), std::string::npos) << no.out;
    const ProcessResult yes = install({"--docker", kDocker, "--trust-plugin=yes"});
    ASSERT_EQ(yes.exit_code, 0) << describe(yes);
    EXPECT_TRUE(fs::is_symlink(plugins() / "docker-trust"));

    // No docker CLI to ask: docker-trust is left out, and the line says why.
    const ProcessResult none = install({"--docker", (m_work / "no-such-docker").string()});
    ASSERT_EQ(none.exit_code, 0) << describe(none);
    EXPECT_NE(none.out.find("docker-trust not installed: could not ask whether the docker CLI has a builtin trust"),
              std::string::npos)
        << none.out;
}

TEST_F(DockerPluginTest, HelpListsTheTrustVerbs) {
    ASSERT_EQ(install({"--docker", kDocker}).exit_code, 0);
    const ProcessResult help = docker({"trustkey", "--help"});
    ASSERT_EQ(help.exit_code, 0) << describe(help);
    EXPECT_NE(help.out.find("Usage: docker trustkey"), std::string::npos) << help.out;
    for (const char* verb : {"inspect", "revoke", "sign", "signer", "key", "verify"})
        EXPECT_NE(help.out.find("\n  " + std::string(verb) + " "), std::string::npos) << verb << " in\n" << help.out;
    for (const char* own : {"status", "login", "install-docker-plugin"})
        EXPECT_EQ(help.out.find("\n  " + std::string(own) + " "), std::string::npos) << own << " in\n" << help.out;
    EXPECT_NE(help.out.find("--server"), std::string::npos) << help.out;

    // A verb's help names it as docker runs it.
    const ProcessResult sign_help = docker({"trustkey", "sign", "--help"});
    ASSERT_EQ(sign_help.exit_code, 0) << describe(sign_help);
    EXPECT_NE(sign_help.out.find("Usage: docker trustkey sign"), std::string::npos) << sign_help.out;

    // trustkey's own commands are not reachable through the plugin.
    const ProcessResult status = docker({"trustkey", "status"});
    EXPECT_EQ(status.exit_code, 2) << describe(status);
    EXPECT_NE(status.err.find("unknown command 'status' for 'docker trustkey'"), std::string::npos) << status.err;
}

TEST_F(DockerPluginTest, SignRunsTheTrustVerb) {
    ASSERT_EQ(install({"--docker", kDocker}).exit_code, 0);
    write_registry_credentials();
    trust_notary_ca();
    const auto pushed = m_registry.push_image("team/app", "v1");

    // The trust verb's own refusal of a repository without a tag.
    const ProcessResult no_tag = docker({"trustkey", "sign", image()});
    EXPECT_EQ(no_tag.exit_code, 2) << describe(no_tag);
    EXPECT_NE(no_tag.err.find("sign needs REPO:TAG"), std::string::npos) << no_tag.err;

    // Signed through docker: the digest from the registry (127.0.0.1, insecure by default as
    // in docker), the notary server from DOCKER_CONTENT_TRUST_SERVER and its CA from
    // $DOCKER_CONFIG/tls.
    const ProcessResult sign = docker({"trustkey", "sign", image("v1")});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(sign.out.find("Successfully signed " + image("v1")), std::string::npos) << sign.out;
    EXPECT_NE(listed("v1").find(pushed.digest.substr(7)), std::string::npos);

    // And `trust` in front is the same verb.
    const ProcessResult inspect = docker({"trustkey", "trust", "inspect", image()});
    ASSERT_EQ(inspect.exit_code, 0) << describe(inspect);
    EXPECT_NE(inspect.out.find("\"v1\""), std::string::npos) << inspect.out;
}

} // namespace
} // namespace trustkey::test
