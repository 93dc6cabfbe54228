#include "tools/trustkey/trust/key_rotation.h"

#include <map>
#include <random>
#include <utility>

#include <fmt/format.h>

#include "daemon/core/encoding.h"
#include "daemon/core/error.h"
#include "tools/trust/publish/agent_signer.h"
#include "tools/trust/publish/server_key.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/role_name.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/targets.h"
#include "tools/trustkey/failure.h"

namespace trustkey::tools::trust {

namespace {

using trustkey::trust::AgentSigner;

// "<role>-<8 hex of SHA-256(gun)>-<8 random hex>", the form new repository keys get.
std::string new_key_name(const std::string& role, const std::string& gun) {
    std::random_device random;
    const std::uint32_t salt = random();
    return fmt::format("{}-{}-{:08x}", role, to_hex(sha256(as_bytes(gun))).substr(0, 8), salt);
}

tuf::Key new_agent_key(proto::Client& agent, const std::string& role, const std::string& gun) {
    try {
        const proto::pb::KeyInfo info = agent.generate_key(new_key_name(role, gun), proto::pb::KEY_TYPE_ECDSA_P256);
        return tuf::Key::from_spki(as_bytes(info.public_key()));
    } catch (const proto::ClientError& e) {
        trustkey::trust::throw_agent_error("generating a new " + role + " key", e);
    }
}

tuf::Root load_root(notary::NotaryClient& server) {
    const auto bytes = server.get_role(std::string(tuf::kRootRole));
    if (!bytes) throw Failure::failed(fmt::format("{} has no repository {} (no root.json)", server.base_url(),
                                                  server.gun()));
    const tuf::Signed file = tuf::Signed::parse(*bytes, std::string(tuf::kRootRole));
    tuf::Root root = tuf::Root::from_json(file.body());
    file.verify(root.role_key_map(tuf::kRootRole), root.role(tuf::kRootRole).threshold);
    return root;
}

std::string sign_file(AgentSigner& signer, const std::string& role, const nlohmann::json& body,
                      const tuf::KeyMap& keys, std::int64_t threshold) {
    const std::vector<tuf::SigningKey> signing = signer.add_held(keys);
    if (std::cmp_less(signing.size(), threshold))
        throw Failure::failed(fmt::format("trustkeyd holds {} of the {} keys \"{}\" needs", signing.size(),
                                          threshold, role));
    tuf::Signed file(role, body);
    file.sign(signing, signer.function());
    return file.to_file();
}

} // namespace

tuf::Key rotate_role_key(proto::Client& agent, notary::NotaryClient& server, const std::string& role,
                         bool server_managed) {
    if (role == tuf::kTargetsRole && server_managed)
        throw Failure::usage("the targets key cannot be server-managed");
    if (role == tuf::kTimestampRole && !server_managed)
        throw Failure::usage("the timestamp key is always server-managed: add --server-managed");
    if (role == tuf::kSnapshotRole && !server_managed)
        throw Failure::failed("rotating to a snapshot key held by trustkeyd is not supported; use --server-managed");

    const tuf::Root old_root = load_root(server);
    const tuf::Key key = server_managed ? trustkey::trust::parse_server_key(server.rotate_key(role), role)
                                        : new_agent_key(agent, role, server.gun());

    tuf::Root root = old_root;
    tuf::RoleKeys& listed = root.roles.at(role);
    const std::vector<std::string> old_ids = listed.keyids;
    listed.keyids = {key.id()};
    listed.threshold = 1;
    for (const std::string& id : old_ids) {
        bool used = false;
        for (const auto& [name, other] : root.roles)
            for (const std::string& other_id : other.keyids) used = used || other_id == id;
        if (!used) root.keys.erase(id);
    }
    root.keys.insert_or_assign(key.id(), key);
    root.common.version += 1;

    AgentSigner signer(agent);
    std::map<std::string, std::string> files;
    files.emplace(tuf::kRootRole, sign_file(signer, std::string(tuf::kRootRole), root.to_json(),
                                            old_root.role_key_map(tuf::kRootRole),
                                            old_root.role(tuf::kRootRole).threshold));
    if (role == tuf::kTargetsRole) {
        const auto bytes = server.get_role(std::string(tuf::kTargetsRole));
        if (!bytes) throw Failure::failed(fmt::format("{} has no targets.json for {}", server.base_url(), server.gun()));
        const tuf::Signed current = tuf::Signed::parse(*bytes, std::string(tuf::kTargetsRole));
        current.verify(old_root.role_key_map(tuf::kTargetsRole), old_root.role(tuf::kTargetsRole).threshold);
        tuf::Targets targets = tuf::Targets::from_json(current.body());
        targets.common.version += 1;
        files.emplace(tuf::kTargetsRole, sign_file(signer, std::string(tuf::kTargetsRole), targets.to_json(),
                                                   root.role_key_map(tuf::kTargetsRole), 1));
    }
    server.publish(files);
    return key;
}

} // namespace trustkey::tools::trust
