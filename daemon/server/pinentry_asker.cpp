#include "daemon/server/pinentry_asker.h"

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "lib/core/error.h"
#include "lib/core/log.h"
#include "lib/pinentry/pinentry_session.h"

namespace trustkey::server {

namespace {

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
}

} // namespace

std::string pinentry_description(const backend::PinQuestion& q) {
    std::string token = q.token.empty() ? std::string("a token") : "token \"" + q.token + "\"";
    if (!q.serial.empty()) token += " (serial " + q.serial + ")";
    std::string text = "trustkeyd needs the PIN of " + token;
    if (!q.purpose.empty()) text += "\nto " + q.purpose;
    return text + ".";
}

pinentry::PinentryOptions pinentry_options(const std::string& program, std::chrono::seconds timeout) {
    pinentry::PinentryOptions options;
    options.program = program;
    options.ttyname = env_or_empty("GPG_TTY");
    options.ttytype = env_or_empty("TERM");
    options.lc_ctype = env_or_empty("LC_ALL");
    if (options.lc_ctype.empty()) options.lc_ctype = env_or_empty("LC_CTYPE");
    options.display = env_or_empty("DISPLAY");
    options.entry_timeout = timeout;
    return options;
}

backend::PinAsker make_pinentry_asker(std::string program, std::chrono::seconds timeout) {
    return [program = std::move(program), timeout](const backend::PinQuestion& q) -> std::optional<LockedBytes> {
        const pinentry::PinentryOptions options = pinentry_options(program, timeout);
        pinentry::PinPrompt prompt;
        prompt.title = "trustkey";
        prompt.description = pinentry_description(q);
        prompt.prompt = "PIN:";
        prompt.error = q.error;
        spdlog::info("event=pin_asked program={} token={} serial={} purpose={}", log::quoted(program),
                     log::quoted(q.token), log::quoted(q.serial), log::quoted(q.purpose));
        try {
            pinentry::PinReply reply = pinentry::ask_pin(options, prompt);
            if (reply.status == pinentry::PinStatus::cancelled) {
                spdlog::info("event=pin_cancelled token={}", log::quoted(q.token));
                return std::nullopt;
            }
            return std::move(reply.pin);
        } catch (const Error& e) {
            spdlog::warn("event=pinentry_failed program={} error={}", log::quoted(program), log::quoted(e.what()));
            throw Error(Errc::pin_required, "the token needs its PIN and pinentry could not ask for it: " + e.message(),
                        e.code(), e.call(), program);
        }
    };
}

} // namespace trustkey::server
