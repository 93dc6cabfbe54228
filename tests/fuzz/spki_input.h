// How spki_fuzz reads its input, shared with the seed generator that writes it:
//   byte 0: key type (mod 4), byte 1: hash (even: sha256, odd: none),
//   bytes 2-3: SPKI length (big-endian, cut to what is left), the SPKI,
//   one byte: data length (cut to what is left), the data, and the rest: the signature.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lib/backend/backend.h"

namespace trustkey::fuzz {

struct SpkiInput {
    backend::KeyType type = backend::KeyType::ecdsa_p256;
    backend::HashAlg hash = backend::HashAlg::sha256;
    std::span<const std::uint8_t> spki;
    std::span<const std::uint8_t> data;
    std::span<const std::uint8_t> signature;
};

inline SpkiInput read_spki_input(std::span<const std::uint8_t> in) {
    SpkiInput out;
    std::size_t pos = 0;
    auto take = [&](std::size_t n) {
        n = std::min(n, in.size() - pos);
        const auto part = in.subspan(pos, n);
        pos += n;
        return part;
    };
    const auto head = take(4);
    if (head.size() > 0) out.type = static_cast<backend::KeyType>(head[0] % 4);
    if (head.size() > 1) out.hash = head[1] % 2 == 0 ? backend::HashAlg::sha256 : backend::HashAlg::none;
    std::size_t spki_len = in.size();
    if (head.size() == 4) spki_len = static_cast<std::size_t>(head[2]) << 8 | head[3];
    out.spki = take(spki_len);
    const auto data_len = take(1);
    out.data = take(data_len.empty() ? 0 : data_len[0]);
    out.signature = take(in.size() - pos);
    return out;
}

inline std::vector<std::uint8_t> write_spki_input(backend::KeyType type, backend::HashAlg hash,
                                                  std::span<const std::uint8_t> spki,
                                                  std::span<const std::uint8_t> data,
                                                  std::span<const std::uint8_t> signature) {
    std::vector<std::uint8_t> out;
    out.push_back(static_cast<std::uint8_t>(type));
    out.push_back(hash == backend::HashAlg::sha256 ? 0 : 1);
    out.push_back(static_cast<std::uint8_t>(spki.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(spki.size()));
    out.insert(out.end(), spki.begin(), spki.end());
    out.push_back(static_cast<std::uint8_t>(data.size()));
    out.insert(out.end(), data.begin(), data.end());
    out.insert(out.end(), signature.begin(), signature.end());
    return out;
}

} // namespace trustkey::fuzz
