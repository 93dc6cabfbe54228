#include "tools/trustkey/trust/trust_commands.h"

#include <memory>

#include "tools/trustkey/trust/publisher_commands.h"
#include "tools/trustkey/trust/inspect_command.h"
#include "tools/trustkey/trust/trust_options.h"
#include "tools/trustkey/trust/verify_command.h"

namespace trustkey::tools::trust {

void add_trust_commands(CLI::App& app, CommandContext& ctx) {
    auto* trust = app.add_subcommand("trust", "Manage trust on images (docker trust, keys in trustkeyd)");
    trust->require_subcommand(1);

    // Owned by the callbacks the subcommands keep, so it lives as long as `app`.
    auto options = std::make_shared<TrustOptions>();
    trust->add_option("--server", options->server,
                      "Notary server URL (default: $DOCKER_CONTENT_TRUST_SERVER, else https://<registry>)");
    trust->add_option("--tlscacert", options->tls_ca_cert, "CA certificate for the notary server");
    trust->add_option("--trust-dir", options->trust_dir, "Trust directory (default: $DOCKER_CONFIG/trust)");
    trust->add_option("--insecure-registry", options->insecure_registries, "Registry host to reach over plain HTTP");

    // -- publisher verbs (key, signer, sign, revoke) --
    auto publisher = std::make_shared<PublisherCommands>(*trust, ctx, options);
    // `trust` keeps this callback, and with it the verbs' state, as long as `app` lives.
    trust->preparse_callback([options, publisher](std::size_t) {});

    // -- pull-side verbs (inspect, verify) --
    // Each adds its subcommand to `trust`, reading the common options from `options`.
    add_inspect_command(*trust, ctx, options);
    add_verify_command(*trust, ctx, options);
}

} // namespace trustkey::tools::trust
