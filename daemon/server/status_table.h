// The one table translating trustkey::Errc into protocol status codes.
#pragma once

#include "lib/core/error.h"
#include "trustkey/proto/codec.h"

namespace trustkey::server {

proto::pb::Status to_status(Errc errc) noexcept;

} // namespace trustkey::server
