// `trustkey trust inspect [--pretty] REPO[:TAG]...`: the verified trust data of
// repositories, as `docker trust inspect` prints it (JSON, or tables with --pretty).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tools/trust/client/trust_data.h"
#include "tools/trustkey/command_context.h"
#include "tools/trustkey/trust/trust_options.h"

namespace trustkey::tools::trust {

// One released tag: a tag/digest pair held by targets or targets/releases, with the
// other delegations that hold the same pair (empty: signed by the repository admin).
struct SignedTagRow {
    std::string tag;
    std::string digest_hex;
    std::vector<std::string> signers;
};

struct SignerKeys {
    std::string name;                  // delegation name without "targets/"
    std::vector<std::string> key_ids;  // canonical ids
};

// What inspect shows for one repository, in docker's order.
struct TrustReport {
    std::string name;  // the reference as the user typed it
    std::vector<SignedTagRow> signed_tags;  // by tag, then digest
    std::vector<SignerKeys> signers;        // by name; "releases" left out
    std::vector<std::string> root_key_ids;
    std::vector<std::string> repository_key_ids;

    // `tag` empty: every tag; otherwise only that tag.
    static TrustReport build(const ::trustkey::trust::TrustData& data, std::string name, const std::string& tag);
    nlohmann::ordered_json to_json() const;
    std::string pretty() const;
};

void add_inspect_command(CLI::App& trust, CommandContext& ctx, std::shared_ptr<TrustOptions> options);

} // namespace trustkey::tools::trust
