#include "tools/trust/publish/key_records.h"

#include <iostream>
#include <vector>

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
        // Only a daemon that answered can refuse; a broken connection fails the next step anyway.
        if (e.kind() != proto::ClientError::Kind::status) throw;
        std::cerr << "trustkey: warning: key " << key_id.substr(0, 12) << " keeps no record that it serves " << role
                  << (gun.empty() ? "" : " of " + gun) << (certificate_pem.empty() ? "" : " (nor its certificate)")
                  << ": " << e.what() << "\n";
    }
}

void record_held_keys(proto::Client& agent, const std::vector<tuf::Key>& keys, const std::string& gun,
                      const std::string& role) {
    for (const tuf::Key& key : keys) {
        const std::string id = key.canonical_id();
        try {
            agent.public_key(id);
        } catch (const proto::ClientError& e) {
            if (e.kind() != proto::ClientError::Kind::status) throw;
            continue;  // not a key trustkeyd holds (or one it cannot read now): nothing to record
        }
        record_key_use(agent, id, gun, role);
    }
}

} // namespace trustkey::trust
