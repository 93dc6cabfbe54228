// `trustkey trust verify REPO[:TAG] [--digest sha256:HEX]`: prints the tag's trusted
// digest (targets/releases, else targets) only when the whole TUF chain verifies and,
// with --digest, the digest is that one; otherwise one line on stderr and exit 1.
#pragma once

#include <memory>

#include <CLI/CLI.hpp>

#include "tools/trustkey/command_context.h"
#include "tools/trustkey/trust/trust_options.h"

namespace trustkey::tools::trust {

void add_verify_command(CLI::App& trust, CommandContext& ctx, std::shared_ptr<TrustOptions> options);

} // namespace trustkey::tools::trust
