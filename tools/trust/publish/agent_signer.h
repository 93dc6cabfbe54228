// Signs TUF metadata with keys trustkeyd holds: the adapter between trustkey::tuf's
// sign callbacks and trustkey::proto::Client.
//
// A role lists a key under its TUF id; the agent holds it under the canonical id (for
// an x509 root key, the id of the plain key inside the certificate). Register each
// role key with add(); sign() then hashes the canonical signed bytes with SHA-256
// (ecdsa, rsapss) or sends the whole message (eddsa), and checks the answer against
// the role key before returning it.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/encoding.h"
#include "tools/trust/tuf/certificate.h"
#include "tools/trust/tuf/key.h"
#include "tools/trust/tuf/key_set.h"
#include "tools/trust/tuf/signed.h"
#include "trustkey/proto/client.h"

namespace trustkey::trust {

// call() of the Error for a lost connection to trustkeyd (it stopped, or never answered).
inline constexpr std::string_view kAgentConnectionLost = "trustkeyd connection";

// Rethrows an agent failure as trustkey::Error: io with call() kAgentConnectionLost when
// the connection broke, not_found for an unknown key, denied otherwise; code() is the
// agent's status number and code_name() its name.
[[noreturn]] void throw_agent_error(const std::string& what, const proto::ClientError& e,
                                    const std::string& subject = {});

class AgentSigner {
public:
    // `agent` must outlive the signer.
    explicit AgentSigner(proto::Client& agent);

    // Registers a role key the agent holds (found by key.canonical_id()); returns the
    // key id and method to pass to tuf::Signed::sign.
    tuf::SigningKey add(const tuf::Key& key);
    // Whether the agent holds the private key behind `key`. Throws for agent failures
    // other than "no such key". The answer for each key is asked once and remembered for
    // the signer's life (a publish asks it for every tag and role).
    bool holds(const tuf::Key& key);
    // Registers the keys of `keys` the agent holds; returns their signing keys (possibly none).
    std::vector<tuf::SigningKey> add_held(const tuf::KeyMap& keys);

    // One signature over `message` with the registered key `keyid`. Throws
    // Error(not_found) for an unregistered id, Error(unsupported_algorithm) for a method
    // that does not fit the key, Error(not_found) when the agent no longer has the key,
    // Error(denied) when the agent fails otherwise or answers a signature that does not verify.
    Bytes sign(const std::string& keyid, std::string_view method, std::span<const std::uint8_t> message);
    // sign() as tuf's callback; the signer must outlive it.
    tuf::SignFunction function();

    // Signs SHA-256 digests with the agent key `key_ref` (id or name), for
    // tuf::make_root_certificate. The signer must outlive it.
    tuf::DigestSigner digest_signer(std::string key_ref);

private:
    proto::Client& m_agent;
    std::map<std::string, tuf::Key> m_keys; // role key id -> key
    std::map<std::string, bool> m_held;     // canonical id -> whether the agent holds it
};

} // namespace trustkey::trust
