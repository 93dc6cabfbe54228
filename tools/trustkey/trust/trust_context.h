// Where a `trustkey trust` verb finds the notary server of an image repository, as
// docker derives it: the GUN, the server URL and its CA, and clients for both.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "tools/trust/notary/notary_client.h"
#include "tools/trust/registry/reference.h"
#include "tools/trust/registry/registry_client.h"
#include "tools/trustkey/trust/trust_options.h"

namespace trustkey::tools::trust {

// A parsed REPO[:TAG] and the notary repository it maps to.
struct RepositoryTarget {
    registry::Reference reference;
    std::string gun;  // "<registry>/<repository>"
    bool tag_given = false;
};

// Parses REPO[:TAG]; throws Failure::usage naming the text when it is no reference.
RepositoryTarget parse_repository(const std::string& text);

// $DOCKER_CONFIG or ~/.docker.
std::filesystem::path docker_config_dir();
// --trust-dir, else $DOCKER_CONFIG/trust.
std::filesystem::path trust_dir(const TrustOptions& options);
// --server, else $DOCKER_CONTENT_TRUST_SERVER, else https://notary.docker.io for Docker
// Hub or https://<registry>.
std::string server_url(const TrustOptions& options, const registry::Reference& ref);
// --tlscacert, else $DOCKER_CONFIG/tls/<host[:port]>/ca.crt when it exists.
std::optional<std::filesystem::path> server_ca(const TrustOptions& options, const std::string& url);

notary::NotaryClient notary_client(const TrustOptions& options, const RepositoryTarget& target);
// A registry client as docker reaches registries: --insecure-registry hosts over plain
// HTTP, others over HTTPS trusted through /etc/docker/certs.d/<host:port>/ (and the
// user's rootless certs.d), credentials from docker's config.json.
registry::RegistryClient registry_client(const TrustOptions& options);

} // namespace trustkey::tools::trust
