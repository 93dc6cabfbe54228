#include "tests/tools/trust/publish/publish_fixture.h"

#include <chrono>

namespace trustkey::test {

namespace {

TrustkeydOptions daemon_options() {
    TrustkeydOptions o;
    o.unset.push_back("SOFTHSM2_CONF"); // the daemon's own embedded token
    return o;
}

} // namespace

PublishTest::PublishTest()
    : m_daemon(TRUSTKEYD_PATH, daemon_options()), m_agent(proto::Client::connect(m_daemon.socket_path().string())) {}

notary::NotaryClient PublishTest::server(const std::string& gun) const {
    http::ClientOptions options;
    options.ca_file = m_notary.ca_cert_path();
    options.timeout = std::chrono::seconds(30);
    return notary::NotaryClient(m_notary.url(), gun, options);
}

std::string PublishTest::describe(const ProcessResult& r) const {
    return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\nstdout:\n" + r.out +
           "\nstderr:\n" + r.err + "\n" + m_notary.log_tail(10);
}

ProcessResult PublishTest::notary(const std::vector<std::string>& args) {
    const auto dir = m_work / ("trust-" + std::to_string(++m_trust_dirs));
    ProcessResult r = m_notary.run_notary(dir, args);
    std::string line = "notary";
    for (const auto& a : args) line += " " + a;
    EXPECT_EQ(r.exit_code, 0) << line << ": " << describe(r);
    return r;
}

std::string openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = run_process(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
}

} // namespace trustkey::test
