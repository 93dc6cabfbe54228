// Hex and base64 (standard alphabet, '=' padding, as TUF metadata uses).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace trustkey {

using Bytes = std::vector<std::uint8_t>;

std::string to_hex(std::span<const std::uint8_t> data);
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<Bytes> from_hex(std::string_view hex);
bool is_hex(std::string_view s) noexcept;

std::string to_base64(std::span<const std::uint8_t> data);
// Strict: padding required, no whitespace; nullopt on any error.
std::optional<Bytes> from_base64(std::string_view b64);

Bytes sha256(std::span<const std::uint8_t> data);
inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

} // namespace trustkey
