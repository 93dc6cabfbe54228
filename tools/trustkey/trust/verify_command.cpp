#include "tools/trustkey/trust/verify_command.h"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <string>

#include "tools/trustkey/trust/pull_repository.h"

namespace trustkey::tools::trust {

namespace {

constexpr std::string_view kSha256Prefix = "sha256:";
constexpr std::size_t kSha256HexLength = 64;

// "sha256:<64 hex>" -> lower-case hex; throws Failure::usage otherwise.
std::string parse_digest(const std::string& text) {
    if (!text.starts_with(kSha256Prefix) || text.size() != kSha256Prefix.size() + kSha256HexLength)
        throw Failure::usage("--digest must be sha256:<64 hex digits>, got '" + text + "'");
    std::string hex = text.substr(kSha256Prefix.size());
    for (char& c : hex) {
        if (!std::isxdigit(static_cast<unsigned char>(c)))
            throw Failure::usage("--digest must be sha256:<64 hex digits>, got '" + text + "'");
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return hex;
}

} // namespace

void add_verify_command(CLI::App& trust, CommandContext& ctx, std::shared_ptr<TrustOptions> options) {
    struct State {
        std::string remote;
        std::string digest;
    };
    auto state = std::make_shared<State>();
    auto* verify = trust.add_subcommand("verify", "Print a tag's trusted digest if its signatures verify");
    verify->add_option("REPO", state->remote, "REPO[:TAG] (the tag defaults to latest)")->required();
    verify->add_option("--digest", state->digest, "Fail unless the trusted digest is this one (sha256:HEX)");
    verify->callback([&ctx, options, state] {
        ctx.action = [options, state] {
            const std::string wanted = state->digest.empty() ? std::string() : parse_digest(state->digest);
            const RepositoryTarget target = parse_repository(state->remote);
            if (target.reference.tag.empty())
                throw Failure::usage("verify takes REPO[:TAG], not a digest reference: " + state->remote);
            const auto data = pull_repository(*options, target);
            const auto found = data.lookup(target.reference.tag);
            if (!found)
                throw Failure::failed("no trusted signature for tag '" + target.reference.tag + "' in " + target.gun);
            if (!wanted.empty() && found->sha256_hex != wanted)
                throw Failure::failed("trusted digest of " + target.gun + ":" + target.reference.tag + " is sha256:" +
                                      found->sha256_hex + ", not " + state->digest);
            std::cout << kSha256Prefix << found->sha256_hex << '\n';
            std::cout.flush();
            if (!std::cout) throw Failure::failed("cannot write to standard output");
        };
    });
}

} // namespace trustkey::tools::trust
