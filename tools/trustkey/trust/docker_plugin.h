// trustkey as a docker CLI plugin. Installed as `docker-trustkey` (or `docker-trust`)
// in a cli-plugins directory, docker first asks `docker-cli-plugin-metadata`, then runs
// `docker-trustkey trustkey ARGS…` for `docker trustkey ARGS…`.
//   - docker-trustkey: the plugin name is dropped and ARGS run as trustkey's commands;
//     a `trust` verb that is not also a top-level command (inspect, verify, …) may be
//     given without `trust`, so `docker trustkey inspect R` runs `trust inspect R`.
//   - docker-trust: `trust` is implied, so `docker trust inspect R` runs `trust inspect R`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/trustkey/command_context.h"

namespace trustkey::tools::trust {

class DockerPlugin {
public:
    static constexpr const char* kTrustkeyPluginName = "docker-trustkey";
    static constexpr const char* kTrustPluginName = "docker-trust";
    static constexpr const char* kMetadataCommand = "docker-cli-plugin-metadata";

    // From argv[0]'s basename; an ordinary run when it is neither plugin name.
    DockerPlugin(int argc, char** argv);

    bool active() const noexcept { return m_kind != Kind::none; }
    // Whether docker asked for the metadata (argv[1] is docker-cli-plugin-metadata).
    bool metadata_requested() const noexcept;
    // {"SchemaVersion":"0.1.0","Vendor":"trustkey","Version":…,"ShortDescription":…}
    static std::string metadata_json(const std::string& version);

    // The arguments (argv[0] first) for trustkey's own parser: unchanged for an
    // ordinary run, rewritten as described above for a plugin run.
    std::vector<std::string> arguments(const CLI::App& app) const;

private:
    enum class Kind { none, trustkey, trust };
    Kind m_kind = Kind::none;
    std::vector<std::string> m_args;
};

// `trustkey install-docker-plugin [--dir DIR]`: symlinks docker-trustkey and docker-trust
// in DIR (default $DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins) to this binary.
void add_install_plugin_command(CLI::App& app, CommandContext& ctx);

} // namespace trustkey::tools::trust
