#include "tools/trust/tuf/key.h"

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "lib/keys/evp_key.h"
#include "lib/keys/openssl_ptr.h"
#include "lib/core/error.h"
#include "tools/trust/tuf/canonical_json.h"
#include "tools/trust/tuf/json_fields.h"
#include "tools/trust/tuf/x509_ptr.h"

namespace trustkey::tuf {

using keys::EvpPkeyPtr;

namespace {

constexpr std::size_t kEd25519KeySize = 32;
constexpr int kMinRsaBits = 2048;
constexpr int kPssSaltLength = 32;

EvpPkeyPtr ed25519_from_raw(std::span<const std::uint8_t> raw) {
    if (raw.size() != kEd25519KeySize) throw Error(Errc::bad_key_format, "an ed25519 public key must be 32 bytes");
    EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
    if (!pkey) keys::throw_openssl(Errc::bad_key_format, "not an ed25519 public key", "EVP_PKEY_new_raw_public_key");
    return pkey;
}

X509Ptr leaf_certificate(const Bytes& pem) {
    auto certs = parse_certificates_pem(std::string_view(reinterpret_cast<const char*>(pem.data()), pem.size()));
    return std::move(certs.front());
}

// The key of the given algorithm as an EVP_PKEY; throws bad_key_format when it does not fit.
EvpPkeyPtr evp_key(KeyAlgorithm algorithm, const Bytes& public_bytes) {
    EvpPkeyPtr pkey;
    switch (algorithm) {
    case KeyAlgorithm::ed25519: return ed25519_from_raw(public_bytes);
    case KeyAlgorithm::ecdsa:
    case KeyAlgorithm::rsa: pkey = keys::pkey_from_spki(public_bytes); break;
    case KeyAlgorithm::ecdsa_x509:
    case KeyAlgorithm::rsa_x509: {
        X509Ptr leaf = leaf_certificate(public_bytes);
        pkey.reset(X509_get_pubkey(leaf.get()));
        if (!pkey) keys::throw_openssl(Errc::bad_key_format, "the certificate's key cannot be read", "X509_get_pubkey");
        break;
    }
    }
    bool ec = algorithm == KeyAlgorithm::ecdsa || algorithm == KeyAlgorithm::ecdsa_x509;
    int want = ec ? EVP_PKEY_EC : EVP_PKEY_RSA;
    if (EVP_PKEY_get_base_id(pkey.get()) != want)
        throw Error(Errc::bad_key_format, "the public key is not of type " + std::string(key_algorithm_name(algorithm)));
    return pkey;
}

bool digest_verify(EVP_PKEY* pkey, const EVP_MD* md, int rsa_padding, std::span<const std::uint8_t> message,
                   std::span<const std::uint8_t> signature) {
    keys::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, pkey) != 1) return false;
    if (rsa_padding != 0) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, rsa_padding) != 1) return false;
        if (rsa_padding == RSA_PKCS1_PSS_PADDING &&
            (EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, kPssSaltLength) != 1))
            return false;
    }
    return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
}

} // namespace

std::string_view key_algorithm_name(KeyAlgorithm a) noexcept {
    switch (a) {
    case KeyAlgorithm::ecdsa: return "ecdsa";
    case KeyAlgorithm::rsa: return "rsa";
    case KeyAlgorithm::ed25519: return "ed25519";
    case KeyAlgorithm::ecdsa_x509: return "ecdsa-x509";
    case KeyAlgorithm::rsa_x509: return "rsa-x509";
    }
    return "unknown";
}

std::optional<KeyAlgorithm> parse_key_algorithm(std::string_view name) noexcept {
    for (auto a : {KeyAlgorithm::ecdsa, KeyAlgorithm::rsa, KeyAlgorithm::ed25519, KeyAlgorithm::ecdsa_x509,
                   KeyAlgorithm::rsa_x509})
        if (key_algorithm_name(a) == name) return a;
    return std::nullopt;
}

Key::Key(KeyAlgorithm algorithm, Bytes public_bytes) : m_algorithm(algorithm), m_public(std::move(public_bytes)) {
    evp_key(m_algorithm, m_public);
    ERR_clear_error();
}

Key Key::from_spki(std::span<const std::uint8_t> spki_der) {
    EvpPkeyPtr pkey = keys::pkey_from_spki(spki_der);
    switch (EVP_PKEY_get_base_id(pkey.get())) {
    case EVP_PKEY_EC: return Key(KeyAlgorithm::ecdsa, keys::spki_of(pkey.get()));
    case EVP_PKEY_RSA: return Key(KeyAlgorithm::rsa, Bytes(spki_der.begin(), spki_der.end()));
    case EVP_PKEY_ED25519: {
        Bytes raw(kEd25519KeySize);
        std::size_t len = raw.size();
        if (EVP_PKEY_get_raw_public_key(pkey.get(), raw.data(), &len) != 1 || len != kEd25519KeySize)
            keys::throw_openssl(Errc::bad_key_format, "cannot read the ed25519 key", "EVP_PKEY_get_raw_public_key");
        return Key(KeyAlgorithm::ed25519, std::move(raw));
    }
    default: throw Error(Errc::unsupported_algorithm, "TUF keys are ecdsa, rsa or ed25519");
    }
}

Key Key::from_certificate_pem(std::string_view pem) {
    auto certs = parse_certificates_pem(pem);
    std::string text;
    for (auto& c : certs) text += certificate_pem(c.get());
    int base = EVP_PKEY_get_base_id(X509_get0_pubkey(certs.front().get()));
    KeyAlgorithm a;
    if (base == EVP_PKEY_EC) a = KeyAlgorithm::ecdsa_x509;
    else if (base == EVP_PKEY_RSA) a = KeyAlgorithm::rsa_x509;
    else throw Error(Errc::unsupported_algorithm, "certificate keys must be ecdsa or rsa");
    return Key(a, Bytes(text.begin(), text.end()));
}

Key Key::from_json(const nlohmann::json& value, std::string_view role, std::string_view field) {
    FieldPath at{role, std::string(field)};
    if (!value.is_object()) field_error(at, "must be an object");
    only_fields(value, at, {"keytype", "keyval"});
    std::string type = string_at(value, at, "keytype");
    auto algorithm = parse_key_algorithm(type);
    if (!algorithm) field_error(at.child("keytype"), "has an unknown key type \"" + type + "\"");
    const nlohmann::json& keyval = object_at(value, at, "keyval");
    FieldPath kv = at.child("keyval");
    only_fields(keyval, kv, {"private", "public"});
    if (auto it = keyval.find("private"); it != keyval.end() && !it->is_null())
        field_error(kv.child("private"), "must be null: metadata never carries private keys");
    Bytes pub = base64_at(keyval, kv, "public");
    try {
        return Key(*algorithm, std::move(pub));
    } catch (const Error& e) {
        field_error(kv.child("public"), "is not a valid " + type + " key: " + e.message());
    }
}

bool Key::is_x509() const noexcept {
    return m_algorithm == KeyAlgorithm::ecdsa_x509 || m_algorithm == KeyAlgorithm::rsa_x509;
}

nlohmann::json Key::to_json() const {
    return {{"keytype", keytype()}, {"keyval", {{"private", nullptr}, {"public", to_base64(m_public)}}}};
}

std::string Key::canonical_json() const { return tuf::canonical_json(to_json()); }

std::string Key::id() const { return to_hex(sha256(as_bytes(canonical_json()))); }

Key Key::canonical_key() const {
    if (!is_x509()) return *this;
    X509Ptr leaf = leaf_certificate(m_public);
    KeyAlgorithm plain = m_algorithm == KeyAlgorithm::ecdsa_x509 ? KeyAlgorithm::ecdsa : KeyAlgorithm::rsa;
    return Key(plain, certificate_spki(leaf.get()));
}

std::string Key::canonical_id() const { return canonical_key().id(); }

Bytes Key::spki_der() const {
    EvpPkeyPtr pkey = evp_key(m_algorithm, m_public);
    return keys::spki_of(pkey.get());
}

std::string_view Key::signing_method() const noexcept {
    switch (m_algorithm) {
    case KeyAlgorithm::ecdsa:
    case KeyAlgorithm::ecdsa_x509: return "ecdsa";
    case KeyAlgorithm::rsa:
    case KeyAlgorithm::rsa_x509: return "rsapss";
    case KeyAlgorithm::ed25519: return "eddsa";
    }
    return "unknown";
}

bool Key::verify(std::string_view method, std::span<const std::uint8_t> message,
                 std::span<const std::uint8_t> signature) const {
    bool ok = false;
    try {
        EvpPkeyPtr pkey = evp_key(m_algorithm, m_public);
        switch (m_algorithm) {
        case KeyAlgorithm::ecdsa:
        case KeyAlgorithm::ecdsa_x509: {
            if (method != "ecdsa") break;
            std::size_t half = static_cast<std::size_t>(EVP_PKEY_get_bits(pkey.get()) + 7) / 8;
            if (signature.size() != 2 * half) break; // DER or padded-wrong signatures are refused
            Bytes der = keys::ecdsa_raw_to_der(signature);
            ok = digest_verify(pkey.get(), EVP_sha256(), 0, message, der);
            break;
        }
        case KeyAlgorithm::rsa:
        case KeyAlgorithm::rsa_x509: {
            if (EVP_PKEY_get_bits(pkey.get()) < kMinRsaBits) break;
            if (method == "rsapss") ok = digest_verify(pkey.get(), EVP_sha256(), RSA_PKCS1_PSS_PADDING, message, signature);
            else if (method == "rsapkcs1v15")
                ok = digest_verify(pkey.get(), EVP_sha256(), RSA_PKCS1_PADDING, message, signature);
            break;
        }
        case KeyAlgorithm::ed25519:
            if (method != "eddsa" || signature.size() != 64) break;
            ok = digest_verify(pkey.get(), nullptr, 0, message, signature);
            break;
        }
    } catch (const Error&) {
        ok = false;
    }
    ERR_clear_error();
    return ok;
}

} // namespace trustkey::tuf
