// What a key carries besides its name: the uses recorded for it (a repository and a
// role in it) and X.509 certificates of its public key (a notary root key's
// certificates, one per repository). Stored with the key by its backend; the ids of the
// certificates are TUF ids of x509 keys, by which notary names root keys.
#pragma once

#include <compare>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lib/core/encoding.h"

namespace trustkey::backend {

struct KeyInfo;

struct KeyUse {
    std::string repository;  // notary GUN; empty for none
    std::string role;        // "root", "targets", "snapshot", "targets/<signer>", ...
    auto operator<=>(const KeyUse&) const = default;
};

struct KeyMetadata {
    std::vector<KeyUse> uses;
    std::vector<Bytes> certificates;  // DER, one X.509 certificate each
    bool empty() const noexcept { return uses.empty() && certificates.empty(); }
    bool operator==(const KeyMetadata&) const = default;
};

inline constexpr std::size_t kMaxKeyUses = 64;
inline constexpr std::size_t kMaxKeyCertificates = 64;
inline constexpr std::size_t kMaxUseField = 255;
inline constexpr std::size_t kMaxCertificateSize = 16 * 1024;

// Adds to `into` the uses and certificates of `more` it does not hold yet; true when
// anything was added. Throws invalid_argument when the result would pass the limits.
bool merge_metadata(KeyMetadata& into, const KeyMetadata& more);

// A use's fields: at most kMaxUseField bytes, no control characters, a role not empty.
// Throws invalid_argument.
void check_key_use(const KeyUse& use);

// One X.509 certificate, given as DER or as PEM text, as DER. Throws invalid_argument
// when it is not exactly one certificate.
Bytes certificate_der(std::span<const std::uint8_t> der_or_pem);
// Throws invalid_argument unless the certificate (DER) holds the public key `spki_der`.
void check_certificate_of(std::span<const std::uint8_t> cert_der, std::span<const std::uint8_t> spki_der);
// The certificate as PEM the way Go's pem.Encode writes it (64-character lines).
std::string certificate_pem(std::span<const std::uint8_t> cert_der);
// The TUF id notary gives the certificate as a key: SHA-256 of the canonical
// {"keytype":"ecdsa-x509"|"rsa-x509","keyval":{"private":null,"public":B64(PEM)}}.
// Empty for a certificate of another key type (notary has no x509 form for it) or one
// that does not parse.
std::string certificate_key_id(std::span<const std::uint8_t> cert_der);

// Sets `key.meta`, its certificates in the order they became valid (then by their bytes), and
// works out `key.certificate_ids` from them.
void attach_metadata(KeyInfo& key, KeyMetadata meta);

// The uses as stored: [{"repository":R,"role":O},...].
nlohmann::json uses_json(const std::vector<KeyUse>& uses);
// Parses what uses_json wrote. Throws bad_key_format.
std::vector<KeyUse> uses_from_json(const nlohmann::json& list);

// The whole metadata as one JSON text (a TPM backend's file beside the key):
// {"certificates":[B64 DER,...],"uses":[...]}; and back (bad_key_format when unreadable).
std::string metadata_json(const KeyMetadata& meta);
KeyMetadata metadata_from_json(std::string_view text);

} // namespace trustkey::backend
