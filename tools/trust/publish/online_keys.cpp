#include "tools/trust/publish/online_keys.h"

#include <algorithm>
#include <string>
#include <utility>

#include "lib/core/error.h"
#include "tools/trust/publish/server_key.h"

namespace trustkey::trust {

std::vector<tuf::SigningKey> held_role_keys(AgentSigner& signer, const tuf::Root& root, std::string_view role) {
    const tuf::KeyMap keys = root.role_key_map(role);
    std::vector<tuf::SigningKey> held = signer.add_held(keys);
    const std::int64_t threshold = root.role(role).threshold;
    if (std::cmp_greater_equal(held.size(), threshold)) return held;
    std::string ids;
    for (const auto& [id, key] : keys) {
        if (signer.holds(key)) continue;
        ids += (ids.empty() ? "" : ", ") + id;
        if (key.canonical_id() != id) ids += " (its key " + key.canonical_id() + ")";
    }
    throw Error(Errc::denied,
                "root.json's " + std::string(role) + " key " + ids + " is not a key trustkeyd holds (it holds " +
                    std::to_string(held.size()) + " of the " + std::to_string(threshold) + " needed)",
                0, {}, std::string(role));
}

bool holds_any_role_key(AgentSigner& signer, const tuf::Root& root, std::string_view role) {
    const tuf::KeyMap keys = root.role_key_map(role);
    return std::any_of(keys.begin(), keys.end(), [&](const auto& entry) { return signer.holds(entry.second); });
}

void require_server_key(notary::NotaryClient& server, const tuf::Root& root, std::string_view role) {
    const tuf::Key served = fetch_server_key(server, std::string(role));
    const tuf::RoleKeys& listed = root.role(role);
    if (listed.keyids.size() == 1 && listed.keyids.front() == served.id() && listed.threshold == 1) return;
    std::string ids;
    for (const std::string& id : listed.keyids) ids += (ids.empty() ? "" : ", ") + id;
    throw Error(Errc::denied,
                "root.json's " + std::string(role) + " key " + (ids.empty() ? std::string("(none)") : ids) +
                    " is not the " + std::string(role) + " key " + served.id() + " the notary server " +
                    server.base_url() + " holds for " + server.gun() +
                    (role == "snapshot" ? ", nor a key trustkeyd holds" : ""),
                0, {}, std::string(role));
}

} // namespace trustkey::trust
