#include "daemon/server/dispatcher.h"

#include <algorithm>
#include <cctype>
#include <new>

#include <fmt/format.h>

#include "lib/core/log.h"
#include "lib/core/secure_bytes.h"
#include "daemon/server/pin_purpose.h"
#include "lib/backend/pin_asker.h"
#include "daemon/server/proto_convert.h"
#include "daemon/server/status_table.h"

#ifndef TRUSTKEY_VERSION
#error "TRUSTKEY_VERSION must be defined by the build"
#endif

namespace trustkey::server {

namespace {

bool is_client_mistake(pb::Status s) noexcept {
    switch (s) {
    case pb::STATUS_INTERNAL:
    case pb::STATUS_TOKEN_ABSENT:
    case pb::STATUS_TOKEN_ERROR:
    case pb::STATUS_KEY_DAMAGED:
    case pb::STATUS_PIN_LOCKED: return false;
    default: return true;
    }
}

// A failure of the protocol itself, whose status has no Errc of its own.
class ProtocolError : public Error {
public:
    ProtocolError(pb::Status status, std::string message)
        : Error(Errc::invalid_argument, std::move(message)), m_status(status) {}
    pb::Status status() const noexcept { return m_status; }

private:
    pb::Status m_status;
};

} // namespace

// Requests carrying secrets: wipe them from the decoded message once handled.
void Dispatcher::wipe_secrets(pb::Request& request) noexcept {
    if (request.has_login()) wipe(*request.mutable_login()->mutable_pin());
    if (request.has_unlock()) wipe(*request.mutable_unlock()->mutable_pin());
    if (request.has_generate_key()) wipe(*request.mutable_generate_key()->mutable_auth());
    if (request.has_import_key()) {
        wipe(*request.mutable_import_key()->mutable_pem());
        wipe(*request.mutable_import_key()->mutable_passphrase());
        wipe(*request.mutable_import_key()->mutable_auth());
    }
}

std::string Dispatcher::one_line(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return s;
}

Dispatcher::Dispatcher(backend::KeyRing& ring, Options options)
    : m_ring(ring), m_options(std::move(options)), m_started(std::chrono::steady_clock::now()), m_lock(ring) {}

std::string Dispatcher::server_name() { return std::string("trustkeyd ") + TRUSTKEY_VERSION; }

std::uint32_t Dispatcher::batch_limit(backend::KeyType type) noexcept {
    switch (type) {
    case backend::KeyType::ecdsa_p256: return proto::kBatchLimitEcdsaP256;
    case backend::KeyType::ed25519: return proto::kBatchLimitEd25519;
    case backend::KeyType::rsa_2048: return proto::kBatchLimitRsa2048;
    case backend::KeyType::rsa_4096: return proto::kBatchLimitRsa4096;
    }
    return 0;
}

pb::Response Dispatcher::handle_frame(std::span<const std::uint8_t> body, const Caller& caller,
                                      Session& session) noexcept {
    pb::Request request;
    if (auto refused = decode_frame(body, caller, session, request)) return std::move(*refused);
    pb::Response response = handle(request, caller, session);
    wipe_secrets(request);
    return response;
}

std::optional<pb::Response> Dispatcher::decode_frame(std::span<const std::uint8_t> body, const Caller& caller,
                                                     const Session& session, pb::Request& request) noexcept {
    pb::Response response;
    Context ctx;
    ctx.op = "frame";
    try {
        const auto frame = proto::split_frame_body(body);
        if (!frame) {
            fail(response, Error(Errc::malformed, "empty frame").with_domain(ErrorDomain::protocol), caller, ctx);
            return response;
        }
        if (session.negotiated && frame->version != session.version) {
            fail(response,
                 Error(Errc::unsupported_version, fmt::format("frame of protocol version {} on a connection "
                                                              "that negotiated version {}",
                                                              frame->version, session.version))
                     .with_domain(ErrorDomain::protocol),
                 caller, ctx);
            return response;
        }
        if (!session.negotiated &&
            (frame->version < proto::kMinProtocolVersion || frame->version > proto::kProtocolVersion)) {
            fail(response,
                 Error(Errc::unsupported_version,
                       fmt::format("frame of protocol version {}; this server speaks {} to {}", frame->version,
                                   proto::kMinProtocolVersion, proto::kProtocolVersion))
                     .with_domain(ErrorDomain::protocol),
                 caller, ctx);
            return response;
        }
        std::string why;
        if (!proto::decode_request(frame->message, request, why)) {
            wipe_secrets(request);
            fail(response,
                 Error(Errc::malformed, "the request cannot be decoded: " + why).with_domain(ErrorDomain::protocol),
                 caller, ctx);
            return response;
        }
        return std::nullopt;
    } catch (...) {
        wipe_secrets(request);
        response.Clear();
        response.set_status(pb::STATUS_INTERNAL);
        response.set_message("internal error");
        return response;
    }
}

pb::Response Dispatcher::handle(const pb::Request& request, const Caller& caller, Session& session,
                                const backend::KeyRing::Entry* resolved, bool may_ask_pin,
                                bool use_confirmed) noexcept {
    pb::Response response;
    Context ctx;
    ctx.resolved = resolved;
    ctx.caller = caller;
    ctx.may_ask = may_ask_pin;
    ctx.use_confirmed = use_confirmed;
    try {
        response.set_id(request.id());
        ctx.op = proto::request_name(request);
        // What a pinentry prompt during this request says the PIN is for.
        std::optional<backend::PinPurpose> purpose;
        if (may_ask_pin)
            if (auto what = pin_purpose_of(request, resolved)) purpose.emplace(std::move(*what));
        dispatch(request, caller, session, ctx, response);
        ++session.requests;
    } catch (const ProtocolError& e) {
        fail(response, e, e.status(), caller, ctx);
    } catch (const Error& e) {
        fail(response, e, to_status(e.errc()), caller, ctx);
    } catch (const std::bad_alloc&) {
        fail(response, Error(Errc::internal, "out of memory"), caller, ctx);
    } catch (const std::exception& e) {
        spdlog::error("op={} caller_uid={} unexpected_exception={}", ctx.op, caller.uid, log::quoted(e.what()));
        fail(response, Error(Errc::internal, "internal error"), caller, ctx);
    } catch (...) {
        fail(response, Error(Errc::internal, "internal error"), caller, ctx);
    }
    return response;
}

void Dispatcher::dispatch(const pb::Request& request, const Caller& caller, Session& session, Context& ctx,
                          pb::Response& response) {
    using Body = pb::Request::BodyCase;
    if (request.body_case() == Body::BODY_NOT_SET)
        throw ProtocolError(pb::STATUS_UNKNOWN_REQUEST, "the request has no body (unknown request)");
    if (request.body_case() == Body::kHello) return on_hello(request.hello(), session, response);
    if (!session.negotiated) throw ProtocolError(pb::STATUS_NOT_NEGOTIATED, "send Hello first");
    switch (request.body_case()) {
    case Body::kGetStatus:
    case Body::kLock:
    case Body::kUnlock:
    case Body::kStop: break;
    default:
        // Keys are not used, and tokens not logged in to, until an Unlock.
        if (m_lock.locked())
            throw Error(Errc::locked, "trustkeyd is locked; unlock it with a token's PIN (trustkey unlock)");
        if (request.body_case() != Body::kListKeys && request.body_case() != Body::kGetPublicKey) m_lock.touch();
    }

    switch (request.body_case()) {
    case Body::kListKeys: return on_list_keys(caller, response);
    case Body::kGetPublicKey: return on_get_public_key(request.get_public_key(), ctx, response);
    case Body::kGenerateKey: return on_generate_key(request.generate_key(), ctx, response);
    case Body::kImportKey: return on_import_key(request.import_key(), ctx, response);
    case Body::kSign: return on_sign(request.sign(), ctx, response);
    case Body::kSignBatch: return on_sign_batch(request.sign_batch(), ctx, response);
    case Body::kDeleteKey: return on_delete_key(request.delete_key(), ctx, response);
    case Body::kGetStatus: return on_get_status(response);
    case Body::kLogin: return on_login(request.login(), ctx, response);
    case Body::kStop: return on_stop(session, caller, response);
    case Body::kAnnotateKey: return on_annotate_key(request.annotate_key(), ctx, response);
    case Body::kLock: return on_lock(caller, response);
    case Body::kUnlock: return on_unlock(request.unlock(), caller, ctx, response);
    default: throw ProtocolError(pb::STATUS_UNKNOWN_REQUEST, "unknown request");
    }
}

void Dispatcher::on_hello(const pb::Hello& hello, Session& session, pb::Response& response) {
    if (session.negotiated) throw ProtocolError(pb::STATUS_NOT_NEGOTIATED, "Hello was already answered on this connection");
    const std::uint32_t lo = std::max(hello.min_version(), proto::kMinProtocolVersion);
    const std::uint32_t hi = std::min(hello.max_version(), proto::kProtocolVersion);
    if (hello.min_version() > hello.max_version() || lo > hi)
        throw Error(Errc::unsupported_version,
                    fmt::format("no protocol version in common: client speaks {} to {}, server {} to {}",
                                hello.min_version(), hello.max_version(), proto::kMinProtocolVersion,
                                proto::kProtocolVersion));
    session.negotiated = true;
    session.version = hi;
    auto* reply = response.mutable_hello();
    reply->set_version(hi);
    reply->set_server(server_name());
    reply->set_max_frame(static_cast<std::uint32_t>(m_options.max_frame));
    for (auto t : {backend::KeyType::ecdsa_p256, backend::KeyType::rsa_2048, backend::KeyType::rsa_4096,
                   backend::KeyType::ed25519}) {
        auto* limit = reply->add_batch_limits();
        limit->set_key_type(to_proto(t));
        limit->set_max_items(batch_limit(t));
    }
    spdlog::debug("op=hello version={} client={}", hi, log::quoted(hello.client()));
}

void Dispatcher::fail(pb::Response& response, const Error& error, const Caller& caller,
                      const Context& ctx) noexcept {
    fail(response, error, to_status(error.errc()), caller, ctx);
}

void Dispatcher::fail(pb::Response& response, const Error& error, pb::Status status, const Caller& caller,
                      const Context& ctx) noexcept {
    try {
        const std::string op = ctx.op;
        response.clear_body();
        response.set_status(status);
        std::string msg = error.message();
        if (!error.subject().empty()) msg += " [" + error.subject() + "]";
        response.set_message(one_line(std::move(msg)));
        if (ctx.backend) response.set_backend(ctx.backend->name());
        if (status == pb::STATUS_AMBIGUOUS_KEY)
            for (const auto& c : ctx.candidates) response.add_candidates(c);
        if (status == pb::STATUS_PIN_INCORRECT || status == pb::STATUS_PIN_LOCKED ||
            status == pb::STATUS_PIN_REQUIRED)
            add_pin_info(response, ctx);

        std::string line = fmt::format("op={} caller_uid={} caller_pid={} status={}", op, caller.uid, caller.pid,
                                       proto::status_name(status));
        if (!ctx.key_ref.empty()) line += " key=" + log::quoted(ctx.key_ref);
        if (!ctx.key_id.empty()) line += " key_id=" + ctx.key_id;
        if (ctx.backend) line += " backend=" + log::quoted(ctx.backend->name());
        if (error.domain() != ErrorDomain::none) line += fmt::format(" domain={}", error_domain_name(error.domain()));
        if (!error.call().empty()) line += " call=" + error.call();
        if (!error.code_name().empty())
            line += " rv=" + error.code_name();
        else if (error.code() != 0)
            line += fmt::format(" code={}", error.code());
        line += " error=" + log::quoted(error.what());
        if (status == pb::STATUS_KEY_NOT_FOUND && op == "get_public_key")
            spdlog::info("{}", line);  // a lookup: "not found" is an ordinary answer (clients probe by name)
        else if (is_client_mistake(status))
            spdlog::warn("{}", line);
        else
            spdlog::error("{}", line);
    } catch (...) {
        response.set_status(pb::STATUS_INTERNAL);
    }
}

void Dispatcher::add_pin_info(pb::Response& response, const Context& ctx) noexcept {
    if (ctx.backend) fill_pin_info(*ctx.backend, *response.mutable_pin());
}

void Dispatcher::fill_pin_info(backend::Backend& b, pb::PinInfo& pin) noexcept {
    try {
        const auto st = b.status();
        pin.set_count_low(st.pin_count_low);
        pin.set_final_try(st.pin_final_try);
        pin.set_locked(st.pin_locked);
        pin.set_refused(to_proto(st.pin_refused));
        pin.set_logged_in(st.logged_in);
    } catch (...) {
        // Flags are best effort; the status already says what failed.
    }
}

void Dispatcher::stop_after_reply(const Caller& caller) const {
    if (m_options.stop) m_options.stop(caller);
}

} // namespace trustkey::server
