// A test with the real parts the publishing `trustkey trust` verbs talk to: a notary
// server, a registry with basic auth whose credentials are in a docker config.json,
// and a trustkeyd; helpers run the trustkey CLI and read the results back with the
// real notary CLI and the server's files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/registry_server.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {

class TrustVerbsFixture : public ::testing::Test {
protected:
    static constexpr const char* kRegistryUser = "ci-user";
    static constexpr const char* kRegistryPassword = "registry-pass-1";

    TrustVerbsFixture();

    // host/team/app[:tag] in the registry (the GUN without a tag).
    std::string image(const std::string& tag = {}, const std::string& repo = "team/app") const;
    std::string gun(const std::string& repo = "team/app") const { return image({}, repo); }

    // `trustkey trust --server … args…` with DOCKER_CONFIG = docker_config(); `options`
    // may add stdin data or environment.
    ProcessResult trust(std::vector<std::string> args, ProcessOptions options = {}) const;
    static std::string describe(const ProcessResult& r);

    // Writes docker_config()/config.json with basic auth credentials for the registry.
    void write_registry_credentials() const;
    std::filesystem::path docker_config() const { return m_work / "docker"; }

    // `notary args…` in a fresh trust directory; expects success.
    std::string notary(const std::vector<std::string>& args);
    // The `notary list GUN [--roles role]` line for `tag`, empty when it is not listed.
    std::string listed(const std::string& tag, const std::string& role = {}, const std::string& repo = "team/app");
    // The version of `role`'s file on the server, 0 when the server has none.
    std::int64_t server_version(const std::string& role, const std::string& repo = "team/app") const;

    // `trust key generate NAME` then `trust signer add --key NAME.pub NAME repo`; expects success.
    void add_signer(const std::string& name, const std::string& repo = "team/app");

    NotaryServer m_notary;
    RegistryServer m_registry{RegistryServerOptions{.basic_auth = RegistryBasicAuth{kRegistryUser, kRegistryPassword}}};
    CliDaemon m_daemon;
    TempDir m_work{"trustkey-trust-verbs"};
    int m_runs = 0;
};

} // namespace trustkey::test
