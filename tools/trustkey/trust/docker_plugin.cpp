#include "tools/trustkey/trust/docker_plugin.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <system_error>

#include <nlohmann/json.hpp>

namespace trustkey::tools::trust {

namespace {

namespace fs = std::filesystem;

constexpr const char* kTrustCommand = "trust";

bool has_subcommand(const CLI::App& app, const std::string& name) {
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (sub->check_name(name)) return true;
    return false;
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

std::vector<std::string> DockerPlugin::arguments(const CLI::App& app) const {
    if (!active()) return m_args;
    std::vector<std::string> out{m_args.front()};
    std::size_t next = 1;
    // docker passes the plugin's command name first.
    const std::string own = m_kind == Kind::trustkey ? "trustkey" : kTrustCommand;
    if (next < m_args.size() && m_args[next] == own) ++next;
    if (m_kind == Kind::trust) {
        out.emplace_back(kTrustCommand);
    } else if (next < m_args.size() && !has_subcommand(app, m_args[next])) {
        // A trust verb given without `trust`.
        for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
            if (sub->check_name(kTrustCommand) && has_subcommand(*sub, m_args[next])) out.emplace_back(kTrustCommand);
    }
    out.insert(out.end(), m_args.begin() + static_cast<std::ptrdiff_t>(next), m_args.end());
    return out;
}

void add_install_plugin_command(CLI::App& app, CommandContext& ctx) {
    auto dir = std::make_shared<std::string>();
    auto* install = app.add_subcommand("install-docker-plugin",
                                       "Install trustkey as docker CLI plugins (docker trustkey …)");
    install->add_option("--dir", *dir, "cli-plugins directory (default: $DOCKER_CONFIG/cli-plugins or ~/.docker/cli-plugins)");
    install->callback([&ctx, dir] {
        ctx.action = [dir] {
            const fs::path target_dir = dir->empty() ? default_plugin_dir() : fs::path(*dir);
            std::error_code ec;
            const fs::path self = fs::read_symlink("/proc/self/exe", ec);
            if (ec) throw Failure::failed("cannot find the trustkey binary: " + ec.message());
            fs::create_directories(target_dir, ec);
            if (ec) throw Failure::failed("cannot create " + target_dir.string() + ": " + ec.message());
            install_link(target_dir, DockerPlugin::kTrustkeyPluginName, self);
            install_link(target_dir, DockerPlugin::kTrustPluginName, self);
        };
    });
}

} // namespace trustkey::tools::trust
