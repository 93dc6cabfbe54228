#include "tools/trust/publish/server_key.h"

#include "tools/trust/tuf/canonical_json.h"

namespace trustkey::trust {

tuf::Key parse_server_key(std::string_view body, std::string_view role) {
    const std::string what = std::string(role) + ".key";
    return tuf::Key::from_json(tuf::parse_json(body, what), what);
}

tuf::Key fetch_server_key(notary::NotaryClient& server, const std::string& role) {
    return parse_server_key(server.get_key(role), role);
}

} // namespace trustkey::trust
