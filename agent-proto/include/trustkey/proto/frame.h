// Framing: u32 big-endian length, then that many bytes: one version byte and
// the protobuf-encoded message. See PROTOCOL.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace trustkey::proto {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::uint32_t kMinProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderSize = 4;
inline constexpr std::size_t kDefaultMaxFrame = 64 * 1024;  // length field's maximum

// Per key type: the most items one SignBatch may carry so the reply fits kDefaultMaxFrame.
inline constexpr std::uint32_t kBatchLimitEcdsaP256 = 960;
inline constexpr std::uint32_t kBatchLimitEd25519 = 960;
inline constexpr std::uint32_t kBatchLimitRsa2048 = 240;
inline constexpr std::uint32_t kBatchLimitRsa4096 = 120;

// A frame body: version byte plus message bytes.
struct FrameBody {
    std::uint8_t version = 0;
    std::span<const std::uint8_t> message;
};

// Builds a whole frame (header included) around `message`.
std::vector<std::uint8_t> encode_frame(std::uint8_t version, std::span<const std::uint8_t> message);

// Reads the 4-byte header. Returns the body length, or nullopt when it is 0 or above
// `max_frame` (a framing error: the connection is closed).
std::optional<std::uint32_t> parse_frame_header(std::span<const std::uint8_t, kFrameHeaderSize> header,
                                                std::size_t max_frame = kDefaultMaxFrame);

// Splits a body into version and message. nullopt when the body is empty.
std::optional<FrameBody> split_frame_body(std::span<const std::uint8_t> body);

} // namespace trustkey::proto
