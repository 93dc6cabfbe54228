// The daemon's look at its tokens every token_poll_seconds: each backend's check runs on its
// own queue (never on the loop), and a token pulled out or put back is told once each way — in
// the log and to the reply observer (D-Bus TokenRemoved / TokenAdded).
#include "daemon/server/daemon.h"

#include "lib/core/log.h"

namespace trustkey::server {

int Daemon::on_token_poll(sd_event_source* s, std::uint64_t, void* self) noexcept {
    auto* d = static_cast<Daemon*>(self);
    try {
        d->check_tokens();
    } catch (const std::exception& e) {
        spdlog::error("event=token_check_failed error={}", log::quoted(e.what()));
    }
    sd_event_source_set_time(s, usec_of(std::chrono::steady_clock::now() + d->m_token_poll_every));
    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
    return 0;
}

void Daemon::check_tokens() {
    // On the backends' own queues: the loop never asks a token, and a check waits behind the
    // requests already queued for its token instead of running beside them.
    for (backend::Backend* b : m_ring.backends()) {
        if (m_presence_checks.contains(b)) continue;  // the last one has not ended yet
        const std::uint64_t owner = m_next_id++;
        const bool queued = m_scheduler->run_task(b, owner, [this, b]() -> std::function<void()> {
            std::optional<backend::PresenceChange> change;
            try {
                change = b->check_presence();
            } catch (const std::exception& e) {
                spdlog::warn("event=token_check_failed backend={} error={}", log::quoted(b->name()),
                             log::quoted(e.what()));
            }
            return [this, b, change] { token_checked(b, change); };
        });
        if (queued) m_presence_checks.insert(b);
    }
}

void Daemon::token_checked(backend::Backend* b, const std::optional<backend::PresenceChange>& change) {
    m_presence_checks.erase(b);
    if (!change) return;
    if (change->present)
        spdlog::info("event=token_added backend={} label={} serial={}", log::quoted(b->name()),
                     log::quoted(change->label), log::quoted(change->serial));
    else
        spdlog::warn("event=token_removed backend={} label={} serial={} reason=\"its keys answer token absent until "
                     "it is back\"",
                     log::quoted(b->name()), log::quoted(change->label), log::quoted(change->serial));
    if (ReplyObserver* observer = m_connection_options.observer)
        observer->token_presence_changed(TokenPresence{b->name(), change->label, change->serial, change->present});
}

} // namespace trustkey::server
