// The Dispatcher's handlers for key, signing and token requests.
#include <unistd.h>

#include <fmt/format.h>

#include "lib/backend/private_key.h"
#include "lib/keys/public_key.h"
#include "lib/core/log.h"
#include "lib/core/secure_bytes.h"
#include "daemon/server/dispatcher.h"
#include "daemon/server/login_lifetime.h"
#include "daemon/server/proto_convert.h"
#include "daemon/server/status_table.h"
#include "daemon/server/thread_count.h"

namespace trustkey::server {

namespace {

constexpr std::size_t kMaxKeyRef = 256;
constexpr std::size_t kMaxKeyName = 128;
constexpr int kMaxUsesPerRequest = 16;
constexpr int kMaxCertificatesPerRequest = 8;

backend::HashAlg hash_of(pb::HashAlgorithm h) {
    const auto hash = from_proto(h);
    if (!hash) throw Error(Errc::invalid_argument, "the hash algorithm is missing or unknown");
    return *hash;
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A token's login lifetime ([[key_constraint]]) and, while it is logged in, the time left.
void add_login_lifetime(backend::Backend& b, const KeyConstraints& constraints, pb::TokenStatus& token) {
    const auto lifetime = login_lifetime_of(b, constraints);
    if (!lifetime) return;
    token.set_login_lifetime_seconds(static_cast<std::uint32_t>(lifetime->count()));
    const auto end = login_end_of(b, constraints);
    if (!end || !token.logged_in()) return;
    const auto left = std::chrono::ceil<std::chrono::seconds>(*end - std::chrono::steady_clock::now());
    token.set_login_ends_in_seconds(static_cast<std::uint32_t>(std::max<std::int64_t>(left.count(), 0)));
}

void check_name(const std::string& name) {
    if (name.empty()) throw Error(Errc::invalid_argument, "the key name is empty");
    if (name.size() > kMaxKeyName)
        throw Error(Errc::invalid_argument, fmt::format("a key name is at most {} bytes", kMaxKeyName));
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f) throw Error(Errc::invalid_argument, "a key name must not hold control characters");
}

} // namespace

backend::KeyRing::Entry Dispatcher::resolve(const std::string& ref, Context& ctx) {
    ctx.key_ref = ref;
    if (ref.empty()) throw Error(Errc::invalid_argument, "the key reference is empty");
    if (ref.size() > kMaxKeyRef) throw Error(Errc::invalid_argument, "the key reference is too long");
    if (ctx.resolved && ctx.resolved->info) {
        ctx.key_id = ctx.resolved->info->id;
        ctx.backend = ctx.resolved->backend;
        return *ctx.resolved;
    }
    backend::KeyRing::Entry entry;
    try {
        // One look at the keys: what resolves the reference is what an ambiguity reply lists.
        std::vector<backend::KeyRing::Entry> matches = m_ring.matching(ref);
        if (matches.size() > 1)
            for (const auto& m : matches) ctx.candidates.push_back(m.info->id + " " + m.info->name);
        entry = backend::KeyRing::only(ref, std::move(matches));
    } catch (const Error& e) {
        if (e.errc() != Errc::not_found) throw;
        // The key may be on a token that cannot be read now (wrong PIN, removed):
        // report that rather than "not found".
        for (backend::Backend* b : m_ring.backends()) {
            try {
                b->list_keys();
            } catch (const Error& token_error) {
                ctx.backend = b;
                Error e(token_error.errc(),
                        "no readable key matches; backend " + b->name() + ": " + token_error.message(),
                        token_error.code(), token_error.call(), token_error.subject());
                e.set_code_name(token_error.code_name());
                e.set_domain(token_error.domain());
                throw e;
            }
        }
        // Or a key whose stored form the backend cannot read: say so rather than "not found".
        for (backend::Backend* b : m_ring.backends()) {
            if (auto damaged = b->unusable_key(ref)) {
                ctx.backend = b;
                throw *damaged;
            }
        }
        throw;
    }
    ctx.key_id = entry.info->id;
    ctx.backend = entry.backend;
    if (!entry.backend) throw Error(Errc::internal, "the key has no backend", 0, {}, entry.info->id);
    return entry;
}

void Dispatcher::on_list_keys(const Caller& caller, pb::Response& response) {
    auto* reply = response.mutable_list_keys();
    std::vector<backend::KeyRing::Unreadable> unreadable;
    for (const auto& entry : m_ring.list(&unreadable)) to_proto(*entry.info, *reply->add_keys());
    // A token that cannot be read is not a token without keys: the reply says which and why.
    for (const auto& u : unreadable) {
        const pb::Status status = to_status(u.error.errc());
        auto* out = reply->add_unreadable();
        out->set_backend(u.backend->name());
        out->set_status(status);
        std::string msg = u.error.message();
        if (!u.error.subject().empty()) msg += " [" + u.error.subject() + "]";
        out->set_message(one_line(std::move(msg)));
        if (status == pb::STATUS_PIN_INCORRECT || status == pb::STATUS_PIN_LOCKED || status == pb::STATUS_PIN_REQUIRED)
            fill_pin_info(*u.backend, *out->mutable_pin());
        spdlog::warn("op=list_keys caller_uid={} caller_pid={} status={} backend={} error={}", caller.uid, caller.pid,
                     proto::status_name(status), log::quoted(u.backend->name()), log::quoted(u.error.what()));
    }
}

void Dispatcher::on_get_public_key(const pb::GetPublicKey& req, Context& ctx, pb::Response& response) {
    const auto entry = resolve(req.key(), ctx);
    to_proto(*entry.info, *response.mutable_get_public_key()->mutable_key());
}

void Dispatcher::on_generate_key(const pb::GenerateKey& req, Context& ctx, pb::Response& response) {
    check_name(req.name());
    ctx.key_ref = req.name();
    backend::KeyType type = backend::KeyType::ecdsa_p256;
    if (req.type() != pb::KEY_TYPE_UNSPECIFIED) {
        const auto t = from_proto(req.type());
        if (!t) throw Error(Errc::unsupported_algorithm, "unknown key type");
        type = *t;
    }
    backend::Backend& b = m_ring.backend(req.backend());
    ctx.backend = &b;
    check_new_key(b, req.name(), {});
    const auto info = req.auth().empty() ? b.generate(req.name(), type)
                                         : b.generate_with_auth(req.name(), type, secure_from(req.auth()));
    ctx.key_id = info.id;
    to_proto(info, *response.mutable_generate_key()->mutable_key());
    spdlog::info("op=generate_key key_id={} name={} type={} backend={}", info.id, log::quoted(info.name),
                 backend::key_type_name(info.type), log::quoted(b.name()));
}

void Dispatcher::on_import_key(const pb::ImportKey& req, Context& ctx, pb::Response& response) {
    check_name(req.name());
    ctx.key_ref = req.name();
    const SecureBytes passphrase = secure_from(req.passphrase());
    const auto key = backend::PrivateKey::from_pem(req.pem(), req.passphrase().empty() ? nullptr : &passphrase);
    backend::Backend& b = m_ring.backend(req.backend());
    ctx.backend = &b;
    check_new_key(b, req.name(), backend::tuf_key_id(key.type(), key.spki_der()));
    const auto info = req.auth().empty() ? b.import_key(req.name(), key)
                                         : b.import_key_with_auth(req.name(), key, secure_from(req.auth()));
    ctx.key_id = info.id;
    to_proto(info, *response.mutable_import_key()->mutable_key());
    spdlog::info("op=import_key key_id={} name={} type={} backend={}", info.id, log::quoted(info.name),
                 backend::key_type_name(info.type), log::quoted(b.name()));
}

void Dispatcher::check_new_key(backend::Backend& b, const std::string& name, const std::string& id) {
    const auto held = [](const backend::KeyInfo& k) {
        return fmt::format("key '{}' {} on backend '{}'", k.name, k.id, k.backend);
    };
    if (!id.empty()) {
        for (const auto& entry : m_ring.list())
            if (entry.info->id == id)
                throw Error(Errc::already_exists, "trustkeyd already holds this key: " + held(*entry.info));
    }
    std::vector<backend::KeyPtr> keys;
    try {
        keys = b.known_keys();
    } catch (const Error&) {
        return;  // the backend's own operation reports why it cannot be used
    }
    for (const auto& k : keys)
        if (k->name == name)
            throw Error(Errc::already_exists, fmt::format("the name '{}' is taken by {}", name, held(*k)));
}

void Dispatcher::on_annotate_key(const pb::AnnotateKey& req, Context& ctx, pb::Response& response) {
    const auto entry = resolve(req.key(), ctx);
    if (req.uses_size() == 0 && req.certificates_size() == 0)
        throw Error(Errc::invalid_argument, "nothing to record: give uses or certificates");
    if (req.uses_size() > kMaxUsesPerRequest)
        throw Error(Errc::invalid_argument, fmt::format("at most {} uses per request", kMaxUsesPerRequest));
    if (req.certificates_size() > kMaxCertificatesPerRequest)
        throw Error(Errc::invalid_argument,
                    fmt::format("at most {} certificates per request", kMaxCertificatesPerRequest));
    backend::KeyMetadata more;
    for (const auto& u : req.uses()) {
        backend::KeyUse use{u.repository(), u.role()};
        backend::check_key_use(use);
        more.uses.push_back(std::move(use));
    }
    for (const auto& c : req.certificates()) {
        Bytes der = backend::certificate_der(bytes_of(c));
        backend::check_certificate_of(der, entry.info->spki_der);
        more.certificates.push_back(std::move(der));
    }
    const auto info = entry.backend->annotate(*entry.info, more);
    to_proto(info, *response.mutable_annotate_key()->mutable_key());
    spdlog::info("op=annotate_key key_id={} uses={} certificates={} backend={}", info.id, info.meta.uses.size(),
                 info.meta.certificates.size(), log::quoted(entry.backend->name()));
}

void Dispatcher::on_sign(const pb::Sign& req, Context& ctx, pb::Response& response) {
    const auto entry = resolve(req.key(), ctx);
    const auto hash = hash_of(req.hash());
    confirm_use(entry, ctx, hash, req.data(), 1);
    // The backend checks hash and data against the key (backend.h): once per request.
    const Bytes sig = entry.backend->sign(*entry.info, hash, bytes_of(req.data()));
    auto* reply = response.mutable_sign();
    reply->set_signature(sig.data(), sig.size());
    reply->set_key_id(entry.info->id);
    reply->set_method(std::string(backend::tuf_sig_method(entry.info->type)));
    if (spdlog::should_log(spdlog::level::info))
        spdlog::info("op=sign key_id={} backend={} status=ok", entry.info->id, log::quoted(entry.backend->name()));
}

void Dispatcher::on_sign_batch(const pb::SignBatch& req, Context& ctx, pb::Response& response) {
    const auto entry = resolve(req.key(), ctx);
    const auto hash = hash_of(req.hash());
    if (req.items_size() == 0) throw Error(Errc::batch_empty, "the batch holds no items", 0, {}, entry.info->id);
    const std::uint32_t limit = batch_limit(entry.info->type);
    if (static_cast<std::uint32_t>(req.items_size()) > limit)
        throw Error(Errc::batch_too_large,
                    fmt::format("a batch for {} keys holds at most {} items, got {}",
                                backend::key_type_name(entry.info->type), limit, req.items_size()),
                    0, {}, entry.info->id);
    confirm_use(entry, ctx, hash, req.items(0), static_cast<std::size_t>(req.items_size()));
    std::vector<Bytes> items;
    items.reserve(static_cast<std::size_t>(req.items_size()));
    for (const auto& item : req.items()) items.emplace_back(item.begin(), item.end());  // checked by the backend
    const auto sigs = entry.backend->sign_batch(*entry.info, hash, items);
    if (sigs.size() != items.size())
        throw Error(Errc::internal, "the backend returned a wrong number of signatures", 0, {}, entry.info->id);
    auto* reply = response.mutable_sign_batch();
    for (const auto& sig : sigs) reply->add_signatures(sig.data(), sig.size());
    reply->set_key_id(entry.info->id);
    reply->set_method(std::string(backend::tuf_sig_method(entry.info->type)));
    spdlog::info("op=sign_batch key_id={} items={} backend={} status=ok", entry.info->id, items.size(),
                 log::quoted(entry.backend->name()));
}

void Dispatcher::on_delete_key(const pb::DeleteKey& req, Context& ctx, pb::Response& response) {
    const auto entry = resolve(req.key(), ctx);
    entry.backend->remove(*entry.info);
    response.mutable_delete_key()->set_key_id(entry.info->id);
    spdlog::info("op=delete_key key_id={} name={} backend={}", entry.info->id, log::quoted(entry.info->name),
                 log::quoted(entry.backend->name()));
}

void Dispatcher::on_get_status(pb::Response& response) {
    auto* reply = response.mutable_get_status();
    reply->set_server(server_name());
    reply->set_version(proto::kProtocolVersion);
    for (backend::Backend* b : m_ring.backends()) {
        auto* token = reply->add_tokens();
        to_proto(b->status(), *token);
        if (m_options.constraints) add_login_lifetime(*b, *m_options.constraints, *token);
    }
    if (m_options.connection_count)
        reply->set_connections(static_cast<std::uint32_t>(m_options.connection_count()));
    if (m_options.dropped_requests) reply->set_dropped_requests(m_options.dropped_requests());
    reply->set_threads(static_cast<std::uint32_t>(thread_count()));
    reply->set_locked(m_lock.locked());
    reply->set_idle_lock_seconds(static_cast<std::uint32_t>(m_options.idle_lock.count()));
    const auto up = std::chrono::steady_clock::now() - m_started;
    reply->set_uptime_seconds(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(up).count()));
}

void Dispatcher::on_stop(Session& session, const Caller& caller, pb::Response& response) {
    if (!m_options.stop) throw Error(Errc::denied, "this server cannot be stopped by a request");
    response.mutable_stop()->set_pid(static_cast<std::uint32_t>(::getpid()));
    session.stop_requested = true;
    spdlog::info("op=stop caller_uid={} caller_pid={} status=ok", caller.uid, caller.pid);
}

void Dispatcher::on_login(const pb::Login& req, Context& ctx, pb::Response& response) {
    if (!req.key().empty()) {
        if (!req.backend().empty())
            throw Error(Errc::invalid_argument, "a login names a key or a backend, not both");
        const auto entry = resolve(req.key(), ctx);
        if (req.pin().empty()) throw Error(Errc::invalid_argument, "the authorization value is empty");
        entry.backend->login_key(*entry.info, secure_from(req.pin()));
        response.mutable_login();
        spdlog::info("op=login key_id={} backend={} status=ok", entry.info->id, log::quoted(entry.backend->name()));
        return;
    }
    backend::Backend& b = m_ring.backend(req.backend());
    ctx.backend = &b;
    if (req.pin().empty()) throw Error(Errc::invalid_argument, "the PIN is empty");
    const SecureBytes pin = secure_from(req.pin());
    b.login(pin);
    response.mutable_login();
    spdlog::info("op=login backend={} status=ok", log::quoted(b.name()));
}

void Dispatcher::on_lock(const Caller& caller, pb::Response& response) {
    m_lock.lock("request");
    response.mutable_lock();
    spdlog::info("op=lock caller_uid={} caller_pid={} status=ok", caller.uid, caller.pid);
}

void Dispatcher::on_unlock(const pb::Unlock& req, const Caller& caller, Context& ctx, pb::Response& response) {
    const SecureBytes pin = secure_from(req.pin());
    backend::Backend* checked = nullptr;
    try {
        backend::Backend* with = m_lock.unlock(req.backend(), pin, &checked);
        response.mutable_unlock()->set_backend(with ? with->name() : std::string());
    } catch (...) {
        ctx.backend = checked;  // a refused PIN's reply names the token and its tries left
        throw;
    }
    spdlog::info("op=unlock caller_uid={} caller_pid={} backend={} status=ok", caller.uid, caller.pid,
                 log::quoted(checked ? checked->name() : std::string()));
}

} // namespace trustkey::server
