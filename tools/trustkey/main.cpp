// trustkey: the command-line client of trustkeyd.
// Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong.

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lib/core/error.h"
#include "tools/trustkey/command_context.h"
#include "tools/trustkey/failure.h"
#include "tools/trustkey/key_commands.h"
#include "tools/trustkey/lock_commands.h"
#include "tools/trustkey/login_command.h"
#include "tools/trustkey/sign_command.h"
#include "tools/trustkey/status_command.h"
#include "tools/trustkey/stop_command.h"
#include "tools/trustkey/trust/docker_plugin.h"
#include "tools/trustkey/trust/trust_commands.h"

#ifndef TRUSTKEY_VERSION
#define TRUSTKEY_VERSION "unknown"
#endif

namespace {

// How the user calls the program ("trustkey", or "docker trustkey" as a docker plugin).
std::string g_command_name = "trustkey";

std::string usage_line(const CLI::App*, const CLI::Error& e) {
    return std::string("trustkey: ") + e.what() + " (see " + g_command_name + " --help)\n";
}

// For "a subcommand is required" errors: the deepest command selected, and the
// first word the parser could not use, so the message can name it.
bool report_unknown_command(const CLI::App& app) {
    const CLI::App* deepest = &app;
    std::string path = app.get_name();
    for (bool descended = true; descended;) {
        descended = false;
        for (const CLI::App* sub : deepest->get_subcommands()) {
            deepest = sub;
            path += " " + sub->get_name();
            descended = true;
            break;
        }
    }
    for (const CLI::App* a = deepest; a != nullptr; a = a->get_parent()) {
        const auto left = a->remaining();
        if (!left.empty()) {
            std::cerr << "trustkey: unknown command '" << left.front() << "' for '" << path
                      << "' (see " << path << " --help)\n";
            return true;
        }
    }
    return false;
}

} // namespace

int main(int argc, char** argv) {
    using namespace trustkey::tools;
    const trust::DockerPlugin plugin(argc, argv);
    if (plugin.metadata_requested()) {
        std::cout << trust::DockerPlugin::metadata_json(TRUSTKEY_VERSION);
        return kExitOk;
    }
    CommandContext context;
    CLI::App app{"trustkey: hardware-backed keys for Docker Content Trust, through trustkeyd", "trustkey"};
    app.set_version_flag("--version", std::string("trustkey ") + TRUSTKEY_VERSION);
    app.add_option("--socket", context.socket_path, "trustkeyd's socket")->capture_default_str();
    app.require_subcommand(1);
    app.fallthrough();
    app.failure_message(usage_line);

    KeyCommands key_commands(app, context);
    SignCommand sign_command(app, context);
    StatusCommand status_command(app, context);
    LoginCommand login_command(app, context);
    LockCommands lock_commands(app, context);
    StopCommand stop_command(app, context);
    add_trust_commands(app, context);
    trust::add_install_plugin_command(app, context);
    plugin.adapt(app);
    g_command_name = plugin.command_line_name();

    try {
        // As a docker CLI plugin only the trust verbs are offered (docker_plugin.h).
        std::vector<std::string> args = plugin.arguments();
        std::vector<char*> args_c;
        for (auto& a : args) args_c.push_back(a.data());
        app.parse(static_cast<int>(args_c.size()), args_c.data());
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::RequiredError) && report_unknown_command(app))
            return kExitUsage;
        const int code = app.exit(e);  // prints help, the version, or the one-line error
        return code == 0 ? kExitOk : kExitUsage;
    }

    try {
        if (!context.action) throw Failure::usage("no command given");
        context.action();
        return kExitOk;
    } catch (const Failure& f) {
        std::cerr << "trustkey: " << f.what() << '\n';
        return f.exit_code();
    } catch (const trustkey::Error& e) {
        std::cerr << "trustkey: " << e.user_message() << '\n';
        return kExitFailure;
    } catch (const std::exception& e) {
        std::cerr << "trustkey: " << e.what() << '\n';
        return kExitFailure;
    }
}
