#include "tools/trustkey/trust/docker_plugin.h"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string_view>
#include <system_error>

#include <nlohmann/json.hpp>

#include "lib/core/error.h"
#include "tools/trust/registry/docker_program.h"

namespace trustkey::tools::trust {

namespace {

namespace fs = std::filesystem;

constexpr const char* kTrustCommand = "trust";
constexpr auto kDockerHelpTimeout = std::chrono::seconds(20);
constexpr std::size_t kMaxDockerHelp = 1024 * 1024;

CLI::App* subcommand(CLI::App& app, const std::string& name) {
    for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (sub->check_name(name)) return sub;
    return nullptr;
}

fs::path default_plugin_dir() {
    if (const char* config = std::getenv("DOCKER_CONFIG"); config != nullptr && *config != '\0')
        return fs::path(config) / "cli-plugins";
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
        return fs::path(home) / ".docker" / "cli-plugins";
    throw Failure::usage("no plugin directory: give --dir, or set DOCKER_CONFIG or HOME");
}

void install_link(const fs::path& dir, const std::string& name, const fs::path& target) {
    const fs::path link = dir / name;
    std::error_code ec;
    const auto status = fs::symlink_status(link, ec);
    if (!ec && fs::exists(status)) {
        if (!fs::is_symlink(status))
            throw Failure::failed(link.string() + " exists and is not a symbolic link; not replacing it");
        fs::remove(link, ec);
        if (ec) throw Failure::failed("cannot replace " + link.string() + ": " + ec.message());
    }
    fs::create_symlink(target, link, ec);
    if (ec) throw Failure::failed("cannot create " + link.string() + ": " + ec.message());
    std::cout << link.string() << " -> " << target.string() << '\n';
}

} // namespace

DockerPlugin::DockerPlugin(int argc, char** argv) {
    for (int i = 0; i < argc; ++i) m_args.emplace_back(argv[i]);
    if (m_args.empty()) return;
    const std::string base = fs::path(m_args.front()).filename().string();
    if (base == kTrustkeyPluginName) m_kind = Kind::trustkey;
    if (base == kTrustPluginName) m_kind = Kind::trust;
}

bool DockerPlugin::metadata_requested() const noexcept {
    return active() && m_args.size() >= 2 && m_args[1] == kMetadataCommand;
}

std::string DockerPlugin::metadata_json(const std::string& version) {
    nlohmann::ordered_json j;
    j["SchemaVersion"] = "0.1.0";
    j["Vendor"] = "trustkey";
    j["Version"] = version;
    j["ShortDescription"] = "Docker Content Trust with keys held by trustkeyd";
    return j.dump() + "\n";
}

std::string DockerPlugin::plugin_command() const { return m_kind == Kind::trustkey ? "trustkey" : kTrustCommand; }

std::string DockerPlugin::command_line_name() const {
    return active() ? "docker " + plugin_command() : std::string("trustkey");
}

void DockerPlugin::adapt(CLI::App& app) const {
    if (!active()) return;
    CLI::App* trust = subcommand(app, kTrustCommand);
    if (trust == nullptr) return;
    // trustkey's own commands stay out of reach, even for words the trust verbs leave over.
    for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (sub != trust) sub->disabled();
    app.name("docker");
    trust->name(plugin_command());
    trust->footer("trustkey's own commands (key list, status, login, the sign of a digest …) are not part of the "
                  "docker plugin: run them as trustkey.");
}

std::vector<std::string> DockerPlugin::arguments() const {
    if (!active()) return m_args;
    std::vector<std::string> out{m_args.front(), plugin_command()};
    std::size_t next = 1;
    // docker passes the plugin's command name first.
    if (next < m_args.size() && m_args[next] == plugin_command()) ++next;
    // `docker trustkey trust VERB` as `docker trustkey VERB`.
    if (m_kind == Kind::trustkey && next < m_args.size() && m_args[next] == kTrustCommand) ++next;
    out.insert(out.end(), m_args.begin() + static_cast<std::ptrdiff_t>(next), m_args.end());
    return out;
}

bool help_lists_builtin_trust(const std::string& docker_help) {
    // "  trust       Manage trust on Docker images"; a plugin reads "  trust*      …".
    std::istringstream in(docker_help);
    for (std::string line; std::getline(in, line);) {
        const auto first = line.find_first_not_of(" \t");
        if (first == 0 || first == std::string::npos) continue;
        const std::string_view rest = std::string_view(line).substr(first);
        const std::string_view name = kTrustCommand;
        if (rest.starts_with(name) && rest.size() > name.size() && (rest[name.size()] == ' ' || rest[name.size()] == '\t'))
            return true;
    }
    return false;
}

namespace {

struct InstallOptions {
    std::string dir;
    std::string docker = "docker";
    std::string trust_plugin = "auto";
};

// Why docker-trust is left out; empty when it is to be installed.
std::string reason_to_skip_trust(const InstallOptions& o) {
    if (o.trust_plugin == "yes") return {};
    if (o.trust_plugin == "no") return "--trust-plugin=no";
    const std::string anyway = " (--trust-plugin=yes installs it anyway)";
    registry::ProgramRun run;
    try {
        run = registry::run_docker_program({o.docker, "--help"}, {}, kDockerHelpTimeout, kMaxDockerHelp,
                                           "the docker CLI " + o.docker);
    } catch (const Error& e) {
        return "could not ask whether the docker CLI has a builtin trust command: " + e.message() + anyway;
    }
    if (run.exit_code != 0)
        return "could not ask whether the docker CLI has a builtin trust command: `" + o.docker +
               " --help` exited with " + std::to_string(run.exit_code) + anyway;
    if (help_lists_builtin_trust(run.out))
        return o.docker + " has a builtin trust command, and docker rejects a plugin of that name" + anyway;
    return {};
}

// Removes `link` when it is a symbolic link to `self` (an earlier install's).
bool remove_own_link(const fs::path& link, const fs::path& self) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(link, ec))) return false;
    if (!fs::equivalent(link, self, ec) || ec) return false;
    fs::remove(link, ec);
    if (ec) throw Failure::failed("cannot remove " + link.string() + ": " + ec.message());
    return true;
}

} // namespace

void add_install_plugin_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<InstallOptions>();
    auto* install = app.add_subcommand("install-docker-plugin",
                                       "Install trustkey as docker CLI plugins (docker trustkey …)");
    install->add_option("--dir", o->dir, "cli-plugins directory (default: $DOCKER_CONFIG/cli-plugins or ~/.docker/cli-plugins)");
    install->add_option("--docker", o->docker, "The docker CLI asked whether it has a builtin trust command")
        ->capture_default_str();
    install->add_option("--trust-plugin", o->trust_plugin,
                        "Install docker-trust too: auto (only where the docker CLI has no builtin trust), yes, no")
        ->check(CLI::IsMember({"auto", "yes", "no"}))
        ->capture_default_str();
    install->callback([&ctx, o] {
        ctx.action = [o] {
            const fs::path target_dir = o->dir.empty() ? default_plugin_dir() : fs::path(o->dir);
            std::error_code ec;
            const fs::path self = fs::read_symlink("/proc/self/exe", ec);
            if (ec) throw Failure::failed("cannot find the trustkey binary: " + ec.message());
            fs::create_directories(target_dir, ec);
            if (ec) throw Failure::failed("cannot create " + target_dir.string() + ": " + ec.message());
            install_link(target_dir, DockerPlugin::kTrustkeyPluginName, self);
            const std::string skip = reason_to_skip_trust(*o);
            if (skip.empty()) {
                install_link(target_dir, DockerPlugin::kTrustPluginName, self);
                return;
            }
            const fs::path trust_link = target_dir / DockerPlugin::kTrustPluginName;
            if (remove_own_link(trust_link, self)) std::cout << "removed " << trust_link.string() << '\n';
            std::cout << DockerPlugin::kTrustPluginName << " not installed: " << skip
                      << "; docker trustkey offers the trust verbs\n";
        };
    });
}

} // namespace trustkey::tools::trust
