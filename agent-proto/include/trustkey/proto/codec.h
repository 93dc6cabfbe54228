// Message codec: protobuf, decoded strictly. A message is accepted only when it
// parses, carries no unknown fields, and is byte for byte the canonical
// encoding of what it parsed to (so trailing bytes, repeated or out-of-order
// fields and over-long varints are all refused); the last is checked by walking
// the received bytes, without encoding the message again.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "agent.pb.h"

namespace trustkey::proto {

namespace pb = ::trustkey::agent::v1;

// Appends one whole frame carrying `msg` to `out` (header, version byte, then the message
// serialized in place, with no copy in between). Check the size first: ByteSizeLong() + 1
// must fit the peer's frame limit.
void append_frame(std::vector<std::uint8_t>& out, std::uint8_t version, const google::protobuf::MessageLite& msg);
// The same when the caller has just computed msg.ByteSizeLong() (`size`, unchanged since):
// the message is sized once.
void append_frame(std::vector<std::uint8_t>& out, std::uint8_t version, const google::protobuf::MessageLite& msg,
                  std::size_t size);

std::vector<std::uint8_t> encode_message(const google::protobuf::MessageLite& msg);

// On failure returns false and says why in `why` (no message bytes are quoted).
bool decode_request(std::span<const std::uint8_t> message, pb::Request& out, std::string& why);
bool decode_response(std::span<const std::uint8_t> message, pb::Response& out, std::string& why);

// Short lower-case name of a status ("key_not_found") and of a request body ("sign").
const char* status_name(pb::Status s) noexcept;
const char* request_name(const pb::Request& r) noexcept;

} // namespace trustkey::proto
