// What the publishing verbs of `trustkey trust` share: docker's rule for signer names,
// the size limit for key files, the wrapper that turns library errors into one line,
// and the loading of an offline ceremony's root bundle (--root-bundle).
#pragma once

#include <cstddef>
#include <exception>
#include <regex>
#include <string>

#include <fmt/format.h>

#include "daemon/core/error.h"
#include "tools/trust/http/interruption.h"
#include "tools/trust/publish/root_bundle.h"
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

// Runs `body`, turning library errors into one line naming `what` (Ctrl-C under an
// http::InterruptWatch: "interrupted while <what>").
template <typename F>
void run_step(const std::string& what, F&& body) {
    try {
        body();
    } catch (const Failure&) {
        throw;
    } catch (const http::Interrupted&) {
        throw Failure::failed(fmt::format("interrupted while {}", what));
    } catch (const proto::ClientError& e) {
        throw Failure::failed(fmt::format("{}: trustkeyd: {}", what, e.what()));
    } catch (const std::exception& e) {
        throw Failure::failed(fmt::format("{}: {}", what, e.what()));
    }
}

// The verified bundle `trustkey-ceremony export` wrote to `dir`, for `gun` (RootBundle::load);
// Failure with the one line saying what does not hold otherwise.
inline ::trustkey::trust::RootBundle load_root_bundle(const std::string& dir, const std::string& gun) {
    try {
        return ::trustkey::trust::RootBundle::load(dir, gun);
    } catch (const Error& e) {
        throw Failure::failed(e.message());
    }
}

} // namespace trustkey::tools::trust
