// What trustkey records with the trustkeyd keys it makes or puts to use: the repository
// and role a key serves, and for a root key its certificate, so the id notary gives the
// certificate (root.json, `trust inspect`) names the key in every key verb.
#pragma once

#include <string>
#include <vector>

#include "tools/trust/tuf/key.h"
#include "trustkey/proto/client.h"

namespace trustkey::trust {

// Records (gun, role) and, when not empty, the certificate (PEM) with the key `key_id`;
// `gun` is empty for a key that serves no repository yet (a signer key).
// A key whose backend cannot keep such records still works: a refusal is not fatal and
// is reported as one warning line on standard error.
void record_key_use(proto::Client& agent, const std::string& key_id, const std::string& gun, const std::string& role,
                    const std::string& certificate_pem = {});

// Records (gun, role) with each of `keys` that trustkeyd holds (a signer's keys given as
// public key files); the others are left alone.
void record_held_keys(proto::Client& agent, const std::vector<tuf::Key>& keys, const std::string& gun,
                      const std::string& role);

} // namespace trustkey::trust
