// `trustkey sign KEY (--digest HEX [--hash sha256|none] | --file F)`: prints the
// signature in TUF byte form, base64, and nothing else on stdout.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "tools/trustkey/command_context.h"

namespace trustkey::tools {

class SignCommand {
public:
    SignCommand(CLI::App& app, CommandContext& context);

private:
    void run() const;

    CommandContext& m_context;
    std::string m_key;
    std::string m_digest;
    std::string m_hash = "sha256";
    std::string m_file;
};

} // namespace trustkey::tools
