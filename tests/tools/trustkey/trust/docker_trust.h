// Debian's real `docker trust inspect` (docker 20.10; no engine needed) against a notary
// fixture, for the trust verb tests.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/fixtures/notary_server.h"

namespace trustkey::test {

// `docker trust inspect REPO` with DOCKER_CONFIG=`docker_config` (the fixture's CA is put in
// its tls/ directory; docker's trust cache lives there too) and HOME=`home`. Adds a test
// failure when docker exits non-zero; returns its output parsed (discarded JSON if not JSON).
nlohmann::json docker_trust_inspect(const NotaryServer& notary, const std::filesystem::path& docker_config,
                                    const std::filesystem::path& home, const std::string& repo);

} // namespace trustkey::test
