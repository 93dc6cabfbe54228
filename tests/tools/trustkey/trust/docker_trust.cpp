#include "tests/tools/trustkey/trust/docker_trust.h"

#include <gtest/gtest.h>

#include "tests/fixtures/process.h"
#include "tests/tools/trustkey/cli_expect.h"

namespace trustkey::test {

nlohmann::json docker_trust_inspect(const NotaryServer& notary, const std::filesystem::path& docker_config,
                                    const std::filesystem::path& home, const std::string& repo) {
    const auto tls = docker_config / "tls" / ("127.0.0.1:" + std::to_string(notary.port()));
    std::filesystem::create_directories(tls);
    std::filesystem::copy_file(notary.ca_cert_path(), tls / "ca.crt", std::filesystem::copy_options::overwrite_existing);
    ProcessOptions o;
    o.env = {"DOCKER_CONFIG=" + docker_config.string(), "DOCKER_CONTENT_TRUST_SERVER=" + notary.url(),
             "HOME=" + home.string()};
    o.unset = {"DOCKER_HOST", "DOCKER_CONTEXT"};
    const ProcessResult r = run_process({"/usr/bin/docker", "trust", "inspect", repo}, o);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return nlohmann::json::parse(r.out, nullptr, false);
}

} // namespace trustkey::test
