// `trustkey trust …`: the `docker trust` verbs with every private key held by trustkeyd.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trustkey/command_context.h"

namespace trustkey::tools::trust {

// Adds the `trust` subcommand and all its verbs to `app`. The verbs' state lives
// as long as `app`; `ctx` must outlive parsing and the selected action.
void add_trust_commands(CLI::App& app, CommandContext& ctx);

} // namespace trustkey::tools::trust

namespace trustkey::tools {
using trust::add_trust_commands;
} // namespace trustkey::tools
