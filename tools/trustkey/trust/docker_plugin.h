// trustkey as a docker CLI plugin. Installed as `docker-trustkey` (or `docker-trust`)
// in a cli-plugins directory, docker first asks `docker-cli-plugin-metadata`, then runs
// `docker-trustkey trustkey ARGS…` for `docker trustkey ARGS…`.
//
// As a plugin, trustkey offers the `docker trust` verbs and nothing else: `docker trustkey
// VERB …` and `docker trust VERB …` run `trustkey trust VERB …` (inspect, revoke, sign,
// signer, key, verify, with the trust-wide options), and their help says `docker trustkey`.
// trustkey's own commands (the low-level `sign` of a digest, `key list`, `status`, `login`
// …) are not reachable through docker: `sign` and `key` mean the trust verbs there, so
// they are run as `trustkey …` directly. A leading `trust` (`docker trustkey trust inspect`)
// is accepted and dropped.
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

    // How the user calls the program: "trustkey", or "docker trustkey" / "docker trust".
    std::string command_line_name() const;

    // For a plugin run: names `app` "docker" and its `trust` command after the plugin, so
    // help and errors read `docker trustkey …`. Nothing for an ordinary run.
    void adapt(CLI::App& app) const;

    // The arguments (argv[0] first) for trustkey's own parser: unchanged for an
    // ordinary run; for a plugin run, the plugin's command (the renamed `trust`) and
    // the verbs' arguments.
    std::vector<std::string> arguments() const;

private:
    enum class Kind { none, trustkey, trust };
    std::string plugin_command() const;

    Kind m_kind = Kind::none;
    std::vector<std::string> m_args;
};

// `trustkey install-docker-plugin [--dir DIR] [--docker PATH] [--trust-plugin auto|yes|no]`:
// symlinks docker-trustkey in DIR (default $DOCKER_CONFIG/cli-plugins, else
// ~/.docker/cli-plugins) to this binary, and docker-trust too unless the docker CLI has a
// builtin `trust` command (docker before 29 rejects a plugin of that name on every run). With
// auto (the default) `docker --help` is asked: a builtin command is listed without the `*`
// docker puts after plugins. A docker-trust link to this binary left by an earlier install is
// removed where the builtin exists. Prints what it installed, and what not and why.
void add_install_plugin_command(CLI::App& app, CommandContext& ctx);

// Whether `docker --help`'s text lists a builtin `trust` command.
bool help_lists_builtin_trust(const std::string& docker_help);

} // namespace trustkey::tools::trust
