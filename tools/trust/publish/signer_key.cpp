#include "tools/trust/publish/signer_key.h"

#include "lib/core/encoding.h"
#include "tools/trust/publish/agent_signer.h"

namespace trustkey::trust {

namespace {

namespace pb = proto::pb;

SignerKey from_info(const pb::KeyInfo& info, bool generated) {
    return SignerKey{tuf::Key::from_spki(as_bytes(info.public_key())), info.id(), generated};
}

} // namespace

SignerKey signer_agent_key(proto::Client& agent, const std::string& name, const std::string& backend) {
    try {
        const pb::KeyInfo info = agent.public_key(name);
        // A reference is also matched as an id prefix: only a key of that name counts.
        if (info.name() == name) return from_info(info, false);
    } catch (const proto::ClientError& e) {
        const bool absent = e.kind() == proto::ClientError::Kind::status && e.status() == pb::STATUS_KEY_NOT_FOUND;
        if (!absent) throw_agent_error("looking up signer key \"" + name + "\"", e, name);
    }
    try {
        return from_info(agent.generate_key(name, pb::KEY_TYPE_ECDSA_P256, backend), true);
    } catch (const proto::ClientError& e) {
        throw_agent_error("generating signer key \"" + name + "\"", e, name);
    }
}

} // namespace trustkey::trust
