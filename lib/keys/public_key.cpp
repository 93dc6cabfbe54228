#include "lib/keys/public_key.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "lib/keys/evp_key.h"
#include "lib/keys/openssl_ptr.h"

namespace trustkey::keys {

KeyType key_type_of_spki(std::span<const std::uint8_t> spki_der) {
    EvpPkeyPtr pkey = pkey_from_spki(spki_der);
    return key_type_of(pkey.get());
}

std::string pem_armor(std::string_view label, std::span<const std::uint8_t> der) {
    const std::string b64 = to_base64(der);
    std::string out = "-----BEGIN " + std::string(label) + "-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 64) {
        out.append(b64, i, 64);
        out.push_back('\n');
    }
    out += "-----END " + std::string(label) + "-----\n";
    return out;
}

std::string spki_to_pem(std::span<const std::uint8_t> spki_der) { return pem_armor("PUBLIC KEY", spki_der); }

std::string tuf_key_json(KeyType type, std::span<const std::uint8_t> spki_der) {
    Bytes public_bytes;
    if (type == KeyType::ed25519) {
        EvpPkeyPtr pkey = pkey_from_spki(spki_der);
        if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_ED25519)
            throw Error(Errc::bad_key_format, "the public key is not an ed25519 key");
        std::size_t len = 32;
        public_bytes.resize(len);
        if (EVP_PKEY_get_raw_public_key(pkey.get(), public_bytes.data(), &len) != 1 || len != 32)
            throw_openssl(Errc::bad_key_format, "cannot read the ed25519 public key", "EVP_PKEY_get_raw_public_key");
    } else {
        public_bytes.assign(spki_der.begin(), spki_der.end());
    }
    // Canonical JSON: keys sorted, no whitespace; base64 needs no escaping.
    return R"({"keytype":")" + std::string(tuf_key_type(type)) + R"(","keyval":{"private":null,"public":")" +
           to_base64(public_bytes) + R"("}})";
}

std::string tuf_key_id(KeyType type, std::span<const std::uint8_t> spki_der) {
    return to_hex(sha256(as_bytes(tuf_key_json(type, spki_der))));
}

namespace {

bool verify_digest(EVP_PKEY* pkey, KeyType type, std::span<const std::uint8_t> digest,
                   std::span<const std::uint8_t> sig) {
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return false;
    if (EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1) return false;
    if (type == KeyType::rsa_2048 || type == KeyType::rsa_4096) {
        if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), 32) != 1)
            return false;
    }
    return EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), digest.data(), digest.size()) == 1;
}

} // namespace

bool verify_signature(KeyType type, std::span<const std::uint8_t> spki_der, HashAlg hash,
                      std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) {
    EvpPkeyPtr pkey = pkey_from_spki(spki_der);
    if (key_type_of(pkey.get()) != type) return false;
    bool ok = false;
    if (type == KeyType::ed25519) {
        if (hash != HashAlg::none || signature.size() != 64) return false;
        EvpMdCtxPtr ctx(EVP_MD_CTX_new());
        ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
             EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()) == 1;
    } else {
        if (hash != HashAlg::sha256 || data.size() != digest_size(hash)) return false;
        if (signature.size() != signature_size(type)) return false;
        if (type == KeyType::ecdsa_p256) {
            Bytes der = ecdsa_raw_to_der(signature);
            ok = verify_digest(pkey.get(), type, data, der);
        } else {
            ok = verify_digest(pkey.get(), type, data, signature);
        }
    }
    ERR_clear_error();
    return ok;
}

} // namespace trustkey::keys
