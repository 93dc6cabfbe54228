// A role's file: the "signed" object, its canonical bytes, and the signatures over them.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/key_set.h"
#include "tools/trust/tuf/signature.h"

namespace trustkey::tuf {

// A key to sign with: the id the role lists it under (the x509 id for root keys) and its method.
struct SigningKey {
    std::string keyid;
    std::string method; // "ecdsa", "rsapss", "eddsa"
};

// Makes one signature over `message` (the canonical signed bytes) with the key `keyid`,
// in TUF byte form. An agent-backed signer hashes the message for ecdsa/rsapss.
using SignFunction =
    std::function<Bytes(const std::string& keyid, std::string_view method, std::span<const std::uint8_t> message)>;

class Signed {
public:
    // `body` is a role's signed object (Root::to_json() …). Throws invalid_argument when
    // it has no canonical form (floats, big numbers, control bytes).
    Signed(std::string role, nlohmann::json body);

    // Parses a file: {"signed":{…},"signatures":[{keyid,method,sig}…]}. Methods are
    // lower-cased as notary does. Throws Error(malformed) naming `role` and the field.
    static Signed parse(std::string_view file_bytes, std::string role);

    const std::string& role() const noexcept { return m_role; }
    const nlohmann::json& body() const noexcept { return m_body; }
    // The bytes signatures are made over (what verifiers recompute).
    const std::string& canonical() const noexcept { return m_canonical; }
    const std::vector<Signature>& signatures() const noexcept { return m_signatures; }

    // Adds a signature, replacing one with the same key id.
    void add_signature(Signature sig);
    // Signs with each key in turn through `sign`.
    void sign(std::span<const SigningKey> keys, const SignFunction& sign);
    // The file form (see canonical_json.h).
    std::string to_file() const;

    // Checks the role's type and expiry, then counts the distinct key ids of `role_keys`
    // (keyid -> key, the keys the role lists) with a valid signature. Signatures by other
    // keys, bad signatures, and keys whose id does not match are ignored. Returns the
    // valid key ids; throws Error(denied) naming the role when fewer than `threshold`
    // are valid or the role has expired at `now`.
    std::vector<std::string> verify(const KeyMap& role_keys, std::int64_t threshold,
                                    Expiry now = std::chrono::time_point_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now())) const;

private:
    std::string m_role;
    nlohmann::json m_body;
    std::string m_canonical;
    std::vector<Signature> m_signatures;
};

} // namespace trustkey::tuf
