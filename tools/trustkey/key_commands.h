// `trustkey key …`: list, generate, load, public, delete.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "tools/trustkey/command_context.h"

namespace trustkey::tools {

class KeyCommands {
public:
    // Adds the `key` subcommand and its verbs to `app`; the context must outlive parsing.
    KeyCommands(CLI::App& app, CommandContext& context);

private:
    void list() const;
    void generate() const;
    void load() const;
    void show_public() const;
    void remove() const;

    CommandContext& m_context;
    bool m_json = false;
    std::string m_name;
    std::string m_type = "ecdsa";
    std::string m_backend;
    std::string m_file;
    std::string m_key;
    std::string m_format = "pem";
    bool m_yes = false;
    bool m_auth = false;  // --auth: the key gets its own authorization value
};

} // namespace trustkey::tools
