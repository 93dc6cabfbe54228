// What a request needs a token's PIN for, as trustkeyd's pinentry prompt says it
// ("sign with key releases (3f2a…)"); none for requests that must not bring up a
// prompt (status, login, stop).
#pragma once

#include <optional>
#include <string>

#include "lib/backend/key_ring.h"
#include "trustkey/proto/codec.h"

namespace trustkey::server {

// `resolved` is the key the scheduler found for the request, when it did.
std::optional<std::string> pin_purpose_of(const proto::pb::Request& request, const backend::KeyRing::Entry* resolved);

} // namespace trustkey::server
