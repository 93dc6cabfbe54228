#include "tools/trustkey/trust/trust_commands.h"

#include <memory>
#include <string>
#include <vector>

#include "tools/trustkey/trust/publisher_commands.h"
#include "tools/trustkey/trust/inspect_command.h"
#include "tools/trustkey/trust/trust_options.h"
#include "tools/trustkey/trust/verify_command.h"

namespace trustkey::tools::trust {

namespace {

// The options every trust verb takes, on `app` (as docker, also before the verb).
// Given at both places, --insecure-registry keeps every host; the others the last value.
void add_trust_options(CLI::App& app, const std::shared_ptr<TrustOptions>& options) {
    app.add_option("--server", options->server,
                   "Notary server URL (default: $DOCKER_CONTENT_TRUST_SERVER, else https://<registry>)");
    app.add_option("--tlscacert", options->tls_ca_cert, "CA certificate for the notary server");
    app.add_option("--trust-dir", options->trust_dir, "Trust directory (default: $DOCKER_CONFIG/trust)");
    // One host per occurrence, so the option never takes the image that follows it.
    app.add_option_function<std::vector<std::string>>(
           "--insecure-registry",
           [options](const std::vector<std::string>& hosts) {
               options->insecure_registries.insert(options->insecure_registries.end(), hosts.begin(), hosts.end());
           },
           "Registry host to reach without a checked TLS certificate: HTTPS unchecked, then plain HTTP "
           "(127.0.0.0/8 always is; repeat for more)")
        ->allow_extra_args(false)
        ->type_name("HOST");
}

// Adds the trust-wide options to every verb under `app`, so each verb's --help lists them.
void add_trust_options_to_verbs(CLI::App& app, const std::shared_ptr<TrustOptions>& options) {
    const std::vector<CLI::App*> verbs = app.get_subcommands([](CLI::App*) { return true; });
    for (CLI::App* verb : verbs) {
        if (verb->get_subcommands([](CLI::App*) { return true; }).empty())
            add_trust_options(*verb, options);
        else
            add_trust_options_to_verbs(*verb, options);
    }
}

} // namespace

void add_trust_commands(CLI::App& app, CommandContext& ctx) {
    auto* trust = app.add_subcommand("trust", "Manage trust on images (docker trust, keys in trustkeyd)");
    trust->require_subcommand(1);

    // Owned by the callbacks the subcommands keep, so it lives as long as `app`.
    auto options = std::make_shared<TrustOptions>();
    add_trust_options(*trust, options);

    // -- publisher verbs (key, signer, sign, revoke) --
    auto publisher = std::make_shared<PublisherCommands>(*trust, ctx, options);
    // `trust` keeps this callback, and with it the verbs' state, as long as `app` lives.
    trust->preparse_callback([options, publisher](std::size_t) {});

    // -- pull-side verbs (inspect, verify) --
    // Each adds its subcommand to `trust`, reading the common options from `options`.
    add_inspect_command(*trust, ctx, options);
    add_verify_command(*trust, ctx, options);
    add_trust_options_to_verbs(*trust, options);
}

} // namespace trustkey::tools::trust
