#include "daemon/server/proto_convert.h"

namespace trustkey::server {

namespace pb = proto::pb;
using backend::HashAlg;
using backend::KeyType;

std::optional<KeyType> from_proto(pb::KeyType t) noexcept {
    switch (t) {
    case pb::KEY_TYPE_ECDSA_P256: return KeyType::ecdsa_p256;
    case pb::KEY_TYPE_RSA_2048: return KeyType::rsa_2048;
    case pb::KEY_TYPE_RSA_4096: return KeyType::rsa_4096;
    case pb::KEY_TYPE_ED25519: return KeyType::ed25519;
    default: return std::nullopt;
    }
}

pb::KeyType to_proto(KeyType t) noexcept {
    switch (t) {
    case KeyType::ecdsa_p256: return pb::KEY_TYPE_ECDSA_P256;
    case KeyType::rsa_2048: return pb::KEY_TYPE_RSA_2048;
    case KeyType::rsa_4096: return pb::KEY_TYPE_RSA_4096;
    case KeyType::ed25519: return pb::KEY_TYPE_ED25519;
    }
    return pb::KEY_TYPE_UNSPECIFIED;
}

std::optional<HashAlg> from_proto(pb::HashAlgorithm h) noexcept {
    switch (h) {
    case pb::HASH_SHA256: return HashAlg::sha256;
    case pb::HASH_NONE: return HashAlg::none;
    default: return std::nullopt;
    }
}

void to_proto(const backend::KeyInfo& in, pb::KeyInfo& out) {
    out.set_id(in.id);
    out.set_name(in.name);
    out.set_type(to_proto(in.type));
    out.set_backend(in.backend);
    out.set_public_key(in.spki_der.data(), in.spki_der.size());
    for (const auto& use : in.meta.uses) {
        auto* u = out.add_uses();
        u->set_repository(use.repository);
        u->set_role(use.role);
    }
    for (const auto& id : in.certificate_ids) out.add_certificate_ids(id);
}

pb::PinOrigin to_proto(backend::PinOrigin o) noexcept {
    switch (o) {
    case backend::PinOrigin::configured: return pb::PIN_ORIGIN_CONFIGURED;
    case backend::PinOrigin::login: return pb::PIN_ORIGIN_LOGIN;
    case backend::PinOrigin::pinentry: return pb::PIN_ORIGIN_PINENTRY;
    case backend::PinOrigin::none: break;
    }
    return pb::PIN_ORIGIN_UNSPECIFIED;
}

void to_proto(const backend::BackendStatus& in, pb::TokenStatus& out) {
    out.set_backend(in.name);
    out.set_kind(in.kind);
    out.set_location(in.location);
    out.set_label(in.token_label);
    out.set_manufacturer(in.manufacturer);
    out.set_model(in.model);
    out.set_serial(in.serial);
    out.set_present(in.present);
    out.set_logged_in(in.logged_in);
    out.set_pin_count_low(in.pin_count_low);
    out.set_pin_final_try(in.pin_final_try);
    out.set_pin_locked(in.pin_locked);
    out.set_pin_refused(to_proto(in.pin_refused));
    out.set_key_count(static_cast<std::uint32_t>(in.key_count));
    out.set_sessions(static_cast<std::uint32_t>(in.sessions));
    out.set_error(in.error);
    for (const std::string& name : in.keys_awaiting_auth) out.add_keys_awaiting_auth(name);
}

} // namespace trustkey::server
