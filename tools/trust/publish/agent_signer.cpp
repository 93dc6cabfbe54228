#include "tools/trust/publish/agent_signer.h"

#include <utility>

#include "lib/core/error.h"

namespace trustkey::trust {

namespace pb = proto::pb;

void throw_agent_error(const std::string& what, const proto::ClientError& e, const std::string& subject) {
    if (e.kind() == proto::ClientError::Kind::io || e.kind() == proto::ClientError::Kind::not_running)
        throw Error(Errc::io, what + ": " + e.what(), 0, std::string(kAgentConnectionLost), subject);
    const bool unknown_key = e.kind() == proto::ClientError::Kind::status && e.status() == pb::STATUS_KEY_NOT_FOUND;
    Error err(unknown_key ? Errc::not_found : Errc::denied, what + ": " + e.what(),
              static_cast<std::uint64_t>(e.status()), "trustkeyd", subject);
    err.set_code_name(proto::status_name(e.status()));
    throw err;
}

AgentSigner::AgentSigner(proto::Client& agent) : m_agent(agent) {}

tuf::SigningKey AgentSigner::add(const tuf::Key& key) {
    const std::string id = key.id();
    m_keys.insert_or_assign(id, key);
    return tuf::SigningKey{id, std::string(key.signing_method())};
}

bool AgentSigner::holds(const tuf::Key& key) {
    const std::string canonical = key.canonical_id();
    if (const auto known = m_held.find(canonical); known != m_held.end()) return known->second;
    bool held = false;
    try {
        held = m_agent.public_key(canonical).id() == canonical;
    } catch (const proto::ClientError& e) {
        if (e.kind() != proto::ClientError::Kind::status || e.status() != pb::STATUS_KEY_NOT_FOUND)
            throw_agent_error("looking up key " + canonical + " in trustkeyd", e, canonical);
    }
    m_held.emplace(canonical, held);
    return held;
}

std::vector<tuf::SigningKey> AgentSigner::add_held(const tuf::KeyMap& keys) {
    std::vector<tuf::SigningKey> out;
    for (const auto& [id, key] : keys)
        if (holds(key)) out.push_back(add(key));
    return out;
}

Bytes AgentSigner::sign(const std::string& keyid, std::string_view method, std::span<const std::uint8_t> message) {
    const auto it = m_keys.find(keyid);
    if (it == m_keys.end())
        throw Error(Errc::not_found, "no agent key is registered for TUF key id " + keyid, 0, {}, keyid);
    const tuf::Key& key = it->second;
    if (method != key.signing_method())
        throw Error(Errc::unsupported_algorithm,
                    "a " + std::string(key.keytype()) + " key signs with \"" + std::string(key.signing_method()) +
                        "\", not \"" + std::string(method) + "\"",
                    0, {}, keyid);
    const bool whole_message = key.algorithm() == tuf::KeyAlgorithm::ed25519;
    const Bytes digest = whole_message ? Bytes(message.begin(), message.end()) : sha256(message);
    Bytes sig;
    try {
        const pb::SignReply reply =
            m_agent.sign(key.canonical_id(), whole_message ? pb::HASH_NONE : pb::HASH_SHA256, digest);
        sig.assign(reply.signature().begin(), reply.signature().end());
    } catch (const proto::ClientError& e) {
        throw_agent_error("signing with key " + key.canonical_id(), e, keyid);
    }
    if (!key.verify(method, message, sig))
        throw Error(Errc::denied, "trustkeyd's signature does not verify with TUF key " + keyid, 0, {}, keyid);
    return sig;
}

tuf::SignFunction AgentSigner::function() {
    return [this](const std::string& keyid, std::string_view method, std::span<const std::uint8_t> message) {
        return sign(keyid, method, message);
    };
}

tuf::DigestSigner AgentSigner::digest_signer(std::string key_ref) {
    return [this, ref = std::move(key_ref)](std::span<const std::uint8_t> digest) {
        try {
            const pb::SignReply reply = m_agent.sign(ref, pb::HASH_SHA256, digest);
            return Bytes(reply.signature().begin(), reply.signature().end());
        } catch (const proto::ClientError& e) {
            throw_agent_error("signing a certificate with key " + ref, e, ref);
        }
    };
}

} // namespace trustkey::trust
