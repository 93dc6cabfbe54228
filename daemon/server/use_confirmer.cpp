#include "daemon/server/use_confirmer.h"

#include <unistd.h>

#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/server/pinentry_asker.h"
#include "lib/core/error.h"
#include "lib/core/log.h"
#include "lib/pinentry/pinentry_session.h"

namespace trustkey::server {

namespace {

constexpr std::size_t kShortId = 12;

// Text from the outside (a key name, a path) as one bounded line.
std::string shown(std::string s, std::size_t max = 120) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    if (s.size() > max) s = s.substr(0, max) + "...";
    return s;
}

} // namespace

std::string executable_of(pid_t pid) {
    if (pid <= 0) return {};
    const std::string link = "/proc/" + std::to_string(pid) + "/exe";
    std::string out(4096, '\0');
    const ssize_t n = ::readlink(link.c_str(), out.data(), out.size());
    if (n <= 0 || static_cast<std::size_t>(n) >= out.size()) return {};
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string confirm_description(const UseQuestion& q) {
    const std::string who = q.program.empty() ? std::string("A program") : shown(q.program);
    const std::string key = fmt::format("key \"{}\" ({})", shown(q.key_name, 80), q.key_id.substr(0, kShortId));
    const std::string what = q.count == 1 ? std::string("sign") : fmt::format("sign {} digests", q.count);
    std::string text = fmt::format("{} (pid {}, uid {})\nasks trustkeyd to {} with {}", who, q.pid, q.uid, what, key);
    if (!q.token.empty()) text += fmt::format(" on token \"{}\"", shown(q.token, 80));
    text += ".\n";
    text += q.count == 1 ? "Digest: " : "First digest: ";
    text += q.hash + " " + q.first + "...";
    return text + "\nAllow this use of the key?";
}

UseConfirmer make_pinentry_confirmer(std::string program, std::chrono::seconds timeout) {
    if (program == "none")
        return [](const UseQuestion&) -> bool {
            throw Error(Errc::denied, "no pinentry is configured to ask (pinentry = \"none\")");
        };
    // One question at a time: a second request waits for the first answer.
    auto turn = std::make_shared<std::mutex>();
    return [program = std::move(program), timeout, turn](const UseQuestion& q) -> bool {
        std::lock_guard asking(*turn);
        spdlog::info("event=confirm_asked program={} caller_pid={} caller_exe={} key_id={} items={}",
                     log::quoted(program), q.pid, log::quoted(q.program), q.key_id, q.count);
        try {
            pinentry::PinentrySession session(pinentry_options(program, timeout));
            session.set_title("trustkey: confirm the use of a key");
            session.set_description(confirm_description(q));
            session.set_ok_button("Yes");
            session.set_cancel_button("No");
            const bool yes = session.confirm();
            try {
                session.bye();
            } catch (const Error&) {
                // The answer is in hand.
            }
            return yes;
        } catch (const Error& e) {
            spdlog::warn("event=pinentry_failed program={} error={}", log::quoted(program), log::quoted(e.what()));
            const bool late = e.code() == ETIMEDOUT;
            throw Error(Errc::denied,
                        late ? std::string("nobody answered the confirmation in time")
                             : "pinentry could not ask for confirmation: " + e.message(),
                        e.code(), e.call(), program);
        }
    };
}

} // namespace trustkey::server
