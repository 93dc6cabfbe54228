// What the publishing verbs of `trustkey trust` share: docker's rule for signer names,
// the size limit for key files, and the wrapper that turns library errors into one line.
#pragma once

#include <cstddef>
#include <exception>
#include <regex>
#include <string>

#include <fmt/format.h>

#include "tools/trustkey/failure.h"
#include "trustkey/proto/client.h"

namespace trustkey::tools::trust {

// Key files (public keys, certificates, private key PEMs) larger than this are refused.
inline constexpr std::size_t kMaxKeyFile = 64 * 1024;

// docker's rule for signer and key names: ^[a-z0-9][a-z0-9_-]*$.
inline bool valid_signer_name(const std::string& name) {
    static const std::regex pattern("^[a-z0-9][a-z0-9_-]*$");
    return std::regex_match(name, pattern);
}

// Runs `body`, turning library errors into one line naming `what`.
template <typename F>
void run_step(const std::string& what, F&& body) {
    try {
        body();
    } catch (const Failure&) {
        throw;
    } catch (const proto::ClientError& e) {
        throw Failure::failed(fmt::format("{}: trustkeyd: {}", what, e.what()));
    } catch (const std::exception& e) {
        throw Failure::failed(fmt::format("{}: {}", what, e.what()));
    }
}

} // namespace trustkey::tools::trust
