// `trustkey status [--json]`: the daemon's version and the state of each token.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trustkey/command_context.h"

namespace trustkey::tools {

class StatusCommand {
public:
    StatusCommand(CLI::App& app, CommandContext& context);

private:
    void run() const;

    CommandContext& m_context;
    bool m_json = false;
};

} // namespace trustkey::tools
