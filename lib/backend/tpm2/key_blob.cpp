#include "lib/backend/tpm2/key_blob.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include <tss2/tss2_mu.h>

#include "lib/core/error.h"

namespace trustkey::backend::tpm2 {

namespace {

constexpr std::array<std::uint8_t, 4> kMagic{'T', 'K', 'T', '2'};
constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kVersionFlags = 2;
constexpr std::uint8_t kFlagOwnAuth = 0x01;

// Where the name starts in a blob of that version, and its flags; nullopt for another version.
std::optional<std::pair<std::size_t, std::uint8_t>> header_layout(std::span<const std::uint8_t> data) {
    if (data.size() < kMagic.size() + 1) return std::nullopt;
    if (data[4] == kVersion) return std::pair<std::size_t, std::uint8_t>{5, 0};
    if (data[4] == kVersionFlags && data.size() > 5 && (data[5] & ~kFlagOwnAuth) == 0)
        return std::pair<std::size_t, std::uint8_t>{6, data[5]};
    return std::nullopt;
}
constexpr std::size_t kMaxName = 128;

[[noreturn]] void corrupt(const std::string& subject, const std::string& why) {
    throw Error(Errc::key_damaged, "the key's blob in the state directory is corrupt (" + why + ")", 0, {}, subject);
}

} // namespace

Bytes encode_key_blob(const KeyBlob& blob) {
    Bytes out(kMagic.begin(), kMagic.end());
    if (blob.own_auth) {
        out.push_back(kVersionFlags);
        out.push_back(kFlagOwnAuth);
    } else {
        out.push_back(kVersion);
    }
    out.push_back(static_cast<std::uint8_t>(blob.name.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(blob.name.size() & 0xff));
    out.insert(out.end(), blob.name.begin(), blob.name.end());
    std::array<std::uint8_t, sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE)> buf{};
    std::size_t off = 0;
    TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&blob.pub, buf.data(), buf.size(), &off);
    if (rc == TSS2_RC_SUCCESS) rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&blob.priv, buf.data(), buf.size(), &off);
    if (rc != TSS2_RC_SUCCESS) 
        throw Error(Errc::internal, "cannot encode a key blob", rc, "Tss2_MU_Marshal").with_domain(ErrorDomain::tpm);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(off));
    return out;
}

std::string key_blob_name(std::span<const std::uint8_t> data) {
    if (data.size() < kMagic.size() + 3 || !std::equal(kMagic.begin(), kMagic.end(), data.begin())) return {};
    const auto layout = header_layout(data);
    if (!layout || data.size() < layout->first + 2) return {};
    const std::size_t start = layout->first;
    const std::size_t name_len = (std::size_t{data[start]} << 8) | data[start + 1];
    if (name_len == 0 || name_len > kMaxName || data.size() - start - 2 < name_len) return {};
    return std::string(reinterpret_cast<const char*>(data.data() + start + 2), name_len);
}

KeyBlob decode_key_blob(std::span<const std::uint8_t> data, const std::string& subject) {
    if (data.size() < kMagic.size() + 3 || !std::equal(kMagic.begin(), kMagic.end(), data.begin()))
        corrupt(subject, "not a trustkey TPM key file");
    const auto layout = header_layout(data);
    if (!layout) corrupt(subject, "unknown format version " + std::to_string(data[4]));
    std::size_t off = layout->first;
    if (data.size() < off + 2) corrupt(subject, "bad key name");
    const std::size_t name_len = (std::size_t{data[off]} << 8) | data[off + 1];
    off += 2;
    if (name_len == 0 || name_len > kMaxName || data.size() - off < name_len) corrupt(subject, "bad key name");
    KeyBlob blob;
    blob.own_auth = (layout->second & kFlagOwnAuth) != 0;
    blob.name.assign(reinterpret_cast<const char*>(data.data() + off), name_len);
    off += name_len;
    TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(data.data(), data.size(), &off, &blob.pub);
    if (rc != TSS2_RC_SUCCESS) corrupt(subject, "bad public area");
    rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(data.data(), data.size(), &off, &blob.priv);
    if (rc != TSS2_RC_SUCCESS) corrupt(subject, "bad private area");
    if (off != data.size()) corrupt(subject, "trailing bytes");
    if (blob.priv.size == 0) corrupt(subject, "empty private area");
    return blob;
}

} // namespace trustkey::backend::tpm2
