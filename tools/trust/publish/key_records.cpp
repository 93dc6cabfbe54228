#include "tools/trust/publish/key_records.h"

#include <vector>

#include "tools/trust/publish/agent_signer.h"

namespace trustkey::trust {

void record_key_use(proto::Client& agent, const std::string& key_id, const std::string& gun, const std::string& role,
                    const std::string& certificate_pem) {
    proto::pb::KeyUse use;
    use.set_repository(gun);
    use.set_role(role);
    std::vector<std::string> certificates;
    if (!certificate_pem.empty()) certificates.push_back(certificate_pem);
    try {
        agent.annotate_key(key_id, std::span<const proto::pb::KeyUse>(&use, 1), certificates);
    } catch (const proto::ClientError& e) {
        throw_agent_error("recording the key of role " + role + " of " + gun, e, key_id);
    }
}

} // namespace trustkey::trust
