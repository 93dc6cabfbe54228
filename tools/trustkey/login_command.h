// `trustkey login [--backend B]`: gives a token its user PIN through trustkeyd.
// The PIN comes from $TRUSTKEY_PIN when set, else from a prompt on the terminal,
// else from one line of standard input.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "tools/trustkey/command_context.h"

namespace trustkey::tools {

class LoginCommand {
public:
    LoginCommand(CLI::App& app, CommandContext& context);

private:
    void run() const;
    void login_key() const;

    CommandContext& m_context;
    std::string m_backend;
    std::string m_key;  // --key: log in to one key (its own authorization value)
};

} // namespace trustkey::tools
