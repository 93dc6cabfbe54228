#include "trustkey/proto/frame.h"

namespace trustkey::proto {

std::vector<std::uint8_t> encode_frame(std::uint8_t version, std::span<const std::uint8_t> message) {
    const std::size_t body = message.size() + 1;
    std::vector<std::uint8_t> frame;
    frame.reserve(kFrameHeaderSize + body);
    frame.push_back(static_cast<std::uint8_t>(body >> 24));
    frame.push_back(static_cast<std::uint8_t>(body >> 16));
    frame.push_back(static_cast<std::uint8_t>(body >> 8));
    frame.push_back(static_cast<std::uint8_t>(body));
    frame.push_back(version);
    frame.insert(frame.end(), message.begin(), message.end());
    return frame;
}

std::optional<std::uint32_t> parse_frame_header(std::span<const std::uint8_t, kFrameHeaderSize> header,
                                                std::size_t max_frame) {
    const std::uint32_t n = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                            (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
    if (n == 0 || n > max_frame) return std::nullopt;
    return n;
}

std::optional<FrameBody> split_frame_body(std::span<const std::uint8_t> body) {
    if (body.empty()) return std::nullopt;
    return FrameBody{body[0], body.subspan(1)};
}

} // namespace trustkey::proto
