// A real trustkeyd (embedded SoftHSM2 token, own home) and the real notary server for
// the publishing tests, an agent client, a notary API client, and the notary CLI run
// in a fresh trust directory per call.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/fixtures/trustkeyd_instance.h"
#include "tools/trust/notary/notary_client.h"
#include "trustkey/proto/client.h"

namespace trustkey::test {

inline constexpr const char* kGun = "registry.example.com/team/app";

class PublishTest : public ::testing::Test {
protected:
    PublishTest();

    notary::NotaryClient server(const std::string& gun = kGun) const;
    // `notary args…` in a new, empty trust directory; expects exit 0.
    ProcessResult notary(const std::vector<std::string>& args);
    std::string describe(const ProcessResult& r) const;

    NotaryServer m_notary;
    TempDir m_work{"trustkey-publish"};
    TrustkeydInstance m_daemon;
    proto::Client m_agent;
    int m_trust_dirs = 0;
};

// Runs openssl with `args`; expects exit 0 and returns stdout.
std::string openssl(const std::vector<std::string>& args);

} // namespace trustkey::test
