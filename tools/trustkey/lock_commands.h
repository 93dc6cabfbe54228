// `trustkey lock` and `trustkey unlock [--backend B]`: lock trustkeyd, as `ssh-add -x` locks
// ssh-agent (its tokens are logged out and its keys refused), and unlock it with a token's PIN,
// which the token checks. The PIN comes from $TRUSTKEY_PIN when set, else from a prompt on the
// terminal, else from one line of standard input.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "tools/trustkey/command_context.h"

namespace trustkey::tools {

class LockCommands {
public:
    LockCommands(CLI::App& app, CommandContext& context);

private:
    void lock() const;
    void unlock() const;

    CommandContext& m_context;
    std::string m_backend;
};

} // namespace trustkey::tools
