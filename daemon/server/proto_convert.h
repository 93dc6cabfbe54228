// Conversions between protocol enums/messages and backend types.
#pragma once

#include <optional>

#include "lib/backend/backend.h"
#include "daemon/server/caller.h"
#include "trustkey/proto/codec.h"

namespace trustkey::server {

std::optional<backend::KeyType> from_proto(proto::pb::KeyType t) noexcept;
proto::pb::KeyType to_proto(backend::KeyType t) noexcept;
std::optional<backend::HashAlg> from_proto(proto::pb::HashAlgorithm h) noexcept;
void to_proto(const backend::KeyInfo& in, proto::pb::KeyInfo& out);
proto::pb::PinOrigin to_proto(backend::PinOrigin o) noexcept;
void to_proto(const backend::BackendStatus& in, proto::pb::TokenStatus& out);

} // namespace trustkey::server
