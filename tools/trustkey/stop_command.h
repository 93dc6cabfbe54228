// `trustkey stop`: asks trustkeyd to stop (as `ssh-agent -k` or `gpgconf --kill gpg-agent`)
// and waits, bounded, until its socket is gone.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trustkey/command_context.h"

namespace trustkey::tools {

class StopCommand {
public:
    StopCommand(CLI::App& app, CommandContext& context);

private:
    void run() const;

    CommandContext& m_context;
};

} // namespace trustkey::tools
