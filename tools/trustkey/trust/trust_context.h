// Where a `trustkey trust` verb finds the notary server of an image repository, as
// docker derives it: the GUN, the server URL and its CA, and clients for both.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "lib/core/error.h"
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

// The text of `e` for a line that starts with `context` ("signing GUN"): its message, and
// its subject only when neither names that already; never the internal call.
std::string error_text(const Error& e, const std::string& context);

// $DOCKER_CONFIG or ~/.docker.
std::filesystem::path docker_config_dir();
// --trust-dir, else $DOCKER_CONFIG/trust.
std::filesystem::path trust_dir(const TrustOptions& options);
// --server, else $DOCKER_CONTENT_TRUST_SERVER, else https://notary.docker.io for Docker
// Hub or https://<registry>.
std::string server_url(const TrustOptions& options, const registry::Reference& ref);
// --tlscacert, else $DOCKER_CONFIG/tls/<host[:port]>/ca.crt when it exists.
std::optional<std::filesystem::path> server_ca(const TrustOptions& options, const std::string& url);

// When the server is only the default https://<registry> (no --server, no
// $DOCKER_CONTENT_TRUST_SERVER, not Docker Hub): the words saying how to name the real one.
std::string default_server_hint(const TrustOptions& options, const registry::Reference& ref);
// Where the CA of the notary server `url` goes: --tlscacert or $DOCKER_CONFIG/tls/<host:port>/ca.crt.
std::string server_ca_hint(const std::string& url);

// The notary client for `target`; its errors carry the two hints above.
notary::NotaryClient notary_client(const TrustOptions& options, const RepositoryTarget& target);
// A registry client as docker reaches registries: --insecure-registry hosts and those in
// 127.0.0.0/8 as insecure (HTTPS unchecked, then plain HTTP), others over HTTPS trusted
// through /etc/docker/certs.d/<host:port>/ (and the user's rootless certs.d), credentials
// from docker's config.json.
registry::RegistryClient registry_client(const TrustOptions& options);

} // namespace trustkey::tools::trust
