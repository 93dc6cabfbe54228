// A TUF public key as notary writes it: {"keytype":T,"keyval":{"private":null,"public":B64}}.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"

namespace trustkey::tuf {

enum class KeyAlgorithm : std::uint8_t { ecdsa, rsa, ed25519, ecdsa_x509, rsa_x509 };

// "ecdsa", "rsa", "ed25519", "ecdsa-x509", "rsa-x509".
std::string_view key_algorithm_name(KeyAlgorithm a) noexcept;
std::optional<KeyAlgorithm> parse_key_algorithm(std::string_view name) noexcept;

class Key {
public:
    // `public_bytes` by type: DER SPKI (ecdsa, rsa), the raw 32 bytes (ed25519), the
    // certificate PEM text (*-x509). Throws bad_key_format when they do not parse as that type.
    Key(KeyAlgorithm algorithm, Bytes public_bytes);

    // From a key the agent holds (its DER SPKI).
    static Key from_spki(std::span<const std::uint8_t> spki_der);
    // An *-x509 key from certificate PEM (leaf first, then any intermediates). The PEM is
    // rewritten the way Go writes it, so the id matches the one notary computes.
    static Key from_certificate_pem(std::string_view pem);
    // Parses the TUF key JSON; "private" must be null. Errors name `role` and `field`.
    static Key from_json(const nlohmann::json& value, std::string_view role = "key", std::string_view field = {});

    KeyAlgorithm algorithm() const noexcept { return m_algorithm; }
    std::string_view keytype() const noexcept { return key_algorithm_name(m_algorithm); }
    const Bytes& public_bytes() const noexcept { return m_public; }
    bool is_x509() const noexcept;

    nlohmann::json to_json() const;
    // Canonical bytes of to_json().
    std::string canonical_json() const;
    // Lower-case hex SHA-256 of canonical_json(): the id metadata lists the key under.
    std::string id() const;
    // For *-x509 keys, the id of the {ecdsa|rsa, certificate's DER SPKI} key; otherwise id().
    std::string canonical_id() const;
    // The plain key behind this one: for *-x509 keys the {ecdsa|rsa, SPKI} key, otherwise a copy.
    Key canonical_key() const;
    // DER SPKI of the public key (built for ed25519, taken from the leaf for *-x509).
    Bytes spki_der() const;
    // The method this key signs with: "ecdsa", "rsapss" or "eddsa".
    std::string_view signing_method() const noexcept;

    // Checks a TUF signature over `message` (the canonical signed bytes). Accepts "ecdsa"
    // (raw r||s over SHA-256), "rsapss" and "rsapkcs1v15" (SHA-256, RSA >= 2048 bits), "eddsa";
    // the method must fit the key. False for any bad or unparsable signature.
    bool verify(std::string_view method, std::span<const std::uint8_t> message,
                std::span<const std::uint8_t> signature) const;

    bool operator==(const Key&) const = default;

private:
    KeyAlgorithm m_algorithm;
    Bytes m_public;
};

} // namespace trustkey::tuf
