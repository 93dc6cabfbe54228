#include "tests/tools/trustkey/trust/trust_verbs_fixture.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"

namespace trustkey::test {

TrustVerbsFixture::TrustVerbsFixture() { std::filesystem::create_directories(docker_config()); }

std::string TrustVerbsFixture::image(const std::string& tag, const std::string& repo) const {
    return m_registry.host() + "/" + repo + (tag.empty() ? "" : ":" + tag);
}

ProcessResult TrustVerbsFixture::trust(std::vector<std::string> args, ProcessOptions options) const {
    std::vector<std::string> full{"trust",       "--server", m_notary.url(), "--tlscacert", m_notary.ca_cert_path().string(),
                                  "--insecure-registry", m_registry.host()};
    full.insert(full.end(), args.begin(), args.end());
    options.env.push_back("DOCKER_CONFIG=" + docker_config().string());
    options.unset.push_back("DOCKER_CONTENT_TRUST_SERVER");
    return m_daemon.trustkey(full, options);
}

std::string TrustVerbsFixture::describe(const ProcessResult& r) {
    return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

void TrustVerbsFixture::write_registry_credentials() const {
    const std::string pair = std::string(kRegistryUser) + ":" + kRegistryPassword;
    nlohmann::json config;
    config["auths"][m_registry.host()]["auth"] =
        to_base64({reinterpret_cast<const std::uint8_t*>(pair.data()), pair.size()});
    std::ofstream(docker_config() / "config.json") << config.dump(1) << "\n";
}

std::string TrustVerbsFixture::notary(const std::vector<std::string>& args) {
    const ProcessResult r = m_notary.run_notary(m_work / ("notary-" + std::to_string(++m_runs)), args);
    EXPECT_EQ(r.exit_code, 0) << describe(r) << m_notary.log_tail(10);
    return r.out;
}

std::string TrustVerbsFixture::listed(const std::string& tag, const std::string& role, const std::string& repo) {
    std::vector<std::string> args{"list", gun(repo)};
    if (!role.empty()) args.insert(args.end(), {"--roles", role});
    std::istringstream lines(notary(args));
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(tag + " ", 0) == 0) return line;
    return {};
}

std::int64_t TrustVerbsFixture::server_version(const std::string& role, const std::string& repo) const {
    const ProcessResult r = m_notary.https_get("/v2/" + gun(repo) + "/_trust/tuf/" + role + ".json");
    if (r.exit_code != 0) return 0;
    return nlohmann::json::parse(r.out).at("signed").at("version").get<std::int64_t>();
}

void TrustVerbsFixture::add_signer(const std::string& name, const std::string& repo) {
    const ProcessResult gen = trust({"key", "generate", name, "--dir", m_work.path().string()});
    ASSERT_EQ(gen.exit_code, 0) << describe(gen);
    const ProcessResult add = trust({"signer", "add", "--key", (m_work / (name + ".pub")).string(), name, gun(repo)});
    ASSERT_EQ(add.exit_code, 0) << describe(add);
}

} // namespace trustkey::test
