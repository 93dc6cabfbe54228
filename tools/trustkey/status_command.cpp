#include "tools/trustkey/status_command.h"

#include <iostream>

#include "tools/trustkey/output.h"

namespace trustkey::tools {

StatusCommand::StatusCommand(CLI::App& app, CommandContext& context) : m_context(context) {
    auto* status = app.add_subcommand("status", "Show trustkeyd's version and the state of each token");
    status->add_flag("--json", m_json, "Print JSON instead of text");
    status->callback([this] { m_context.action = [this] { run(); }; });
}

void StatusCommand::run() const {
    const auto reply = m_context.with_client({}, [](proto::Client& c) { return c.status(); });
    std::cout << (m_json ? dump_json(status_json(reply)) : status_text(reply));
    std::cout.flush();
    if (!std::cout) throw Failure::failed("cannot write to standard output");
}

} // namespace trustkey::tools
