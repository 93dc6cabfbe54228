// What the publishing verbs of `trustkey trust` share: docker's rule for signer names,
// the size limit for key files, the wrapper that turns library errors into one line,
// and the loading of an offline ceremony's root bundle (--root-bundle).
#pragma once

#include <cstddef>
#include <exception>
#include <regex>
#include <string>

#include <fmt/format.h>

#include "lib/core/error.h"
#include "tools/trust/http/interruption.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/publish/root_bundle.h"
#include "tools/trustkey/failure.h"
#include "tools/trustkey/trust/trust_context.h"
#include "trustkey/proto/client.h"

namespace trustkey::tools::trust {

// Key files (public keys, certificates, private key PEMs) larger than this are refused.
inline constexpr std::size_t kMaxKeyFile = 64 * 1024;

// docker's rule for signer and key names: ^[a-z0-9][a-z0-9_-]*$.
inline bool valid_signer_name(const std::string& name) {
    static const std::regex pattern("^[a-z0-9][a-z0-9_-]*$");
    return std::regex_match(name, pattern);
}

// `what` ("signing GUN at URL") without its " at URL" when `text` names that URL already.
inline std::string step_name(const std::string& what, const std::string& text) {
    const auto at = what.rfind(" at ");
    if (at == std::string::npos) return what;
    const std::string url = what.substr(at + 4);
    return url.find("://") != std::string::npos && text.find(url) != std::string::npos ? what.substr(0, at) : what;
}

// The line for a step during which trustkeyd went away. Every change a step signs is
// published in one request after all its signatures are made, so what it was signing was
// not published.
inline Failure agent_lost(const std::string& what, const std::string& detail) {
    if (detail.find("timed out") != std::string::npos)
        return Failure::failed(fmt::format("{}: trustkeyd did not answer in time ({}); what it was signing was not "
                                           "published: check trustkeyd and run the command again",
                                           what, detail));
    return Failure::failed(fmt::format("{}: trustkeyd stopped during the step (the connection was lost: {}); what "
                                       "it was signing was not published: start trustkeyd and run the command again",
                                       what, detail));
}

// Runs `body`, turning library errors into one line naming `what` (the server's URL in
// `what` is left out when the error names it already; no internal call names; Ctrl-C under an
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
        if (e.kind() == proto::ClientError::Kind::io || e.kind() == proto::ClientError::Kind::not_running)
            throw agent_lost(what, e.what());
        throw Failure::failed(fmt::format("{}: trustkeyd: {}", what, e.what()));
    } catch (const Error& e) {
        if (e.call() == ::trustkey::trust::kAgentConnectionLost) throw agent_lost(what, e.message());
        const std::string text = error_text(e, what);
        throw Failure::failed(fmt::format("{}: {}", step_name(what, text), text));
    } catch (const std::exception& e) {
        throw Failure::failed(fmt::format("{}: {}", step_name(what, e.what()), e.what()));
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
