// The Dispatcher's confirmation of a key's use ([[key_constraint]] confirm = true): asked on
// the worker that runs the request, before anything is signed, once per request.
#include <fmt/format.h>

#include "daemon/server/dispatcher.h"
#include "daemon/server/proto_convert.h"
#include "daemon/server/status_table.h"
#include "lib/core/encoding.h"
#include "lib/core/log.h"

namespace trustkey::server {

namespace {

constexpr std::size_t kShownDigestBytes = 8;

std::string key_phrase(const backend::KeyInfo& key) {
    return fmt::format("{} ({})", key.name.empty() ? key.id : log::quoted(key.name), key.id.substr(0, 12));
}

} // namespace

bool Dispatcher::needs_confirmation(const backend::KeyInfo& key) const {
    return m_options.constraints && m_options.constraints->needs_confirmation(key);
}

void Dispatcher::confirm_use(const backend::KeyRing::Entry& entry, Context& ctx, backend::HashAlg hash,
                             std::string_view first, std::size_t count) {
    if (ctx.use_confirmed || !needs_confirmation(*entry.info)) return;
    const std::string refused = "the use of key " + key_phrase(*entry.info) + " was not confirmed: ";
    // The event loop never waits for a person (the scheduler does not sign such keys there).
    if (!ctx.may_ask) throw Error(Errc::denied, refused + "it can only be asked on a worker");
    if (!m_options.confirm) throw Error(Errc::denied, refused + "trustkeyd has no way to ask");
    UseQuestion q;
    q.program = executable_of(ctx.caller.pid);
    q.pid = ctx.caller.pid;
    q.uid = ctx.caller.uid;
    q.key_name = entry.info->name;
    q.key_id = entry.info->id;
    q.token = entry.backend ? entry.backend->name() : entry.info->backend;
    q.hash = hash == backend::HashAlg::sha256 ? "SHA-256" : "message";
    const auto shown = first.substr(0, std::min(first.size(), kShownDigestBytes));
    q.first = to_hex({reinterpret_cast<const std::uint8_t*>(shown.data()), shown.size()});
    q.count = count;
    bool yes = false;
    try {
        yes = m_options.confirm(q);
    } catch (const Error& e) {
        throw Error(Errc::denied, refused + e.message(), e.code(), e.call(), e.subject());
    }
    spdlog::info("op=confirm caller_uid={} caller_pid={} caller_exe={} key_id={} items={} answer={}", q.uid, q.pid,
                 log::quoted(q.program), q.key_id, count, yes ? "yes" : "no");
    if (!yes) throw Error(Errc::denied, refused + "refused at the confirmation prompt");
    ctx.use_confirmed = true;
}

std::optional<pb::Response> Dispatcher::confirm_batch(const pb::Request& request, const Caller& caller,
                                                      const backend::KeyRing::Entry& key) noexcept {
    pb::Response response;
    Context ctx;
    ctx.op = "sign_batch";
    ctx.caller = caller;
    ctx.resolved = &key;
    try {
        response.set_id(request.id());
        if (!request.has_sign_batch() || request.sign_batch().items_size() == 0 || !needs_confirmation(*key.info))
            return std::nullopt;  // handle() answers what is wrong with it
        const auto& batch = request.sign_batch();
        const auto hash = from_proto(batch.hash());
        if (!hash) return std::nullopt;
        resolve(batch.key(), ctx);
        if (m_lock.locked()) return std::nullopt;  // handle() refuses it as locked
        confirm_use(key, ctx, *hash, batch.items(0), static_cast<std::size_t>(batch.items_size()));
        return std::nullopt;
    } catch (const Error& e) {
        fail(response, e, to_status(e.errc()), caller, ctx);
    } catch (...) {
        fail(response, Error(Errc::internal, "internal error"), caller, ctx);
    }
    return response;
}

} // namespace trustkey::server
