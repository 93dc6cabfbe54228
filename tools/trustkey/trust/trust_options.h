// Options shared by every `trustkey trust` verb, as `docker trust` takes them.
#pragma once

#include <string>
#include <vector>

namespace trustkey::tools::trust {

struct TrustOptions {
    std::string server;                       // --server (else $DOCKER_CONTENT_TRUST_SERVER, else from the registry)
    std::string tls_ca_cert;                  // --tlscacert
    std::string trust_dir;                    // --trust-dir
    std::vector<std::string> insecure_registries;  // --insecure-registry HOST (HTTPS unchecked, then HTTP)
};

} // namespace trustkey::tools::trust
