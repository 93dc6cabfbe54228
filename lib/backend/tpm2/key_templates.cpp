#include "lib/backend/tpm2/key_templates.h"

#include <algorithm>

#include <openssl/core_names.h>

#include "lib/keys/evp_key.h"
#include "lib/keys/openssl_ptr.h"

namespace trustkey::backend::tpm2 {

namespace {

constexpr std::size_t kP256Size = 32;
constexpr std::uint32_t kRsaDefaultExponent = 65537;

constexpr TPMA_OBJECT kKeyAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;

EvpPkeyPtr pkey_from_params(const char* type, OSSL_PARAM_BLD* bld) {
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
        throw_openssl(Errc::bad_key_format, "the TPM public key is not usable", "EVP_PKEY_fromdata");
    return EvpPkeyPtr(raw);
}

// Left-pads a big-endian number to `size` bytes; throws when it is longer.
Bytes padded(const std::uint8_t* data, std::size_t len, std::size_t size) {
    while (len > size && *data == 0) {
        ++data;
        --len;
    }
    if (len > size) throw Error(Errc::token_error, "the TPM returned an oversized number", len, "Esys_Sign");
    Bytes out(size - len, 0);
    out.insert(out.end(), data, data + len);
    return out;
}

} // namespace

TPM2B_PUBLIC storage_primary_template() {
    TPM2B_PUBLIC t{};
    t.publicArea.type = TPM2_ALG_ECC;
    t.publicArea.nameAlg = TPM2_ALG_SHA256;
    t.publicArea.objectAttributes = kKeyAttributes | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA;
    auto& ecc = t.publicArea.parameters.eccDetail;
    ecc.symmetric.algorithm = TPM2_ALG_AES;
    ecc.symmetric.keyBits.aes = 128;
    ecc.symmetric.mode.aes = TPM2_ALG_CFB;
    ecc.scheme.scheme = TPM2_ALG_NULL;
    ecc.curveID = TPM2_ECC_NIST_P256;
    ecc.kdf.scheme = TPM2_ALG_NULL;
    return t;
}

TPM2B_PUBLIC signing_key_template(KeyType type) {
    TPM2B_PUBLIC t{};
    t.publicArea.nameAlg = TPM2_ALG_SHA256;
    t.publicArea.objectAttributes = kKeyAttributes | TPMA_OBJECT_SIGN_ENCRYPT;
    switch (type) {
    case KeyType::ecdsa_p256: {
        t.publicArea.type = TPM2_ALG_ECC;
        auto& ecc = t.publicArea.parameters.eccDetail;
        ecc.symmetric.algorithm = TPM2_ALG_NULL;
        ecc.scheme.scheme = TPM2_ALG_ECDSA;
        ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        ecc.curveID = TPM2_ECC_NIST_P256;
        ecc.kdf.scheme = TPM2_ALG_NULL;
        return t;
    }
    case KeyType::rsa_2048:
    case KeyType::rsa_4096: {
        t.publicArea.type = TPM2_ALG_RSA;
        auto& rsa = t.publicArea.parameters.rsaDetail;
        rsa.symmetric.algorithm = TPM2_ALG_NULL;
        rsa.scheme.scheme = TPM2_ALG_RSAPSS;
        rsa.scheme.details.rsapss.hashAlg = TPM2_ALG_SHA256;
        rsa.keyBits = type == KeyType::rsa_2048 ? 2048 : 4096;
        rsa.exponent = 0;
        return t;
    }
    case KeyType::ed25519: break;
    }
    throw Error(Errc::unsupported_algorithm,
                "Ed25519 is not a TPM 2.0 algorithm; use --type ecdsa or rsa, or a PKCS#11 backend for ed25519");
}

TPMT_SIG_SCHEME signature_scheme(KeyType type) {
    TPMT_SIG_SCHEME s{};
    if (type == KeyType::ecdsa_p256) {
        s.scheme = TPM2_ALG_ECDSA;
        s.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    } else {
        s.scheme = TPM2_ALG_RSAPSS;
        s.details.rsapss.hashAlg = TPM2_ALG_SHA256;
    }
    return s;
}

KeyType key_type_of_public(const TPMT_PUBLIC& pub) {
    if (pub.type == TPM2_ALG_ECC && pub.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256) return KeyType::ecdsa_p256;
    if (pub.type == TPM2_ALG_RSA && pub.parameters.rsaDetail.keyBits == 2048) return KeyType::rsa_2048;
    if (pub.type == TPM2_ALG_RSA && pub.parameters.rsaDetail.keyBits == 4096) return KeyType::rsa_4096;
    throw Error(Errc::unsupported_algorithm, "a TPM key of a type trustkey does not use");
}

Bytes spki_of_public(const TPMT_PUBLIC& pub) {
    const KeyType type = key_type_of_public(pub);
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld) throw_openssl(Errc::internal, "out of memory", "OSSL_PARAM_BLD_new");
    EvpPkeyPtr pkey;
    if (type == KeyType::ecdsa_p256) {
        const auto& p = pub.unique.ecc;
        Bytes point{0x04};
        for (const auto* c : {&p.x, &p.y}) {
            Bytes v = padded(c->buffer, c->size, kP256Size);
            point.insert(point.end(), v.begin(), v.end());
        }
        if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
            throw_openssl(Errc::internal, "out of memory", "OSSL_PARAM_BLD_push");
        pkey = pkey_from_params("EC", bld.get());
    } else {
        const auto& n = pub.unique.rsa;
        const std::uint32_t e = pub.parameters.rsaDetail.exponent ? pub.parameters.rsaDetail.exponent
                                                                  : kRsaDefaultExponent;
        BignumPtr bn_n(BN_bin2bn(n.buffer, n.size, nullptr));
        BignumPtr bn_e(BN_new());
        if (!bn_n || !bn_e || BN_set_word(bn_e.get(), e) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
            throw_openssl(Errc::internal, "out of memory", "OSSL_PARAM_BLD_push_BN");
        pkey = pkey_from_params("RSA", bld.get());
    }
    if (key_type_of(pkey.get()) != type)
        throw Error(Errc::bad_key_format, "the TPM public key does not match its declared type");
    return spki_of(pkey.get());
}

Bytes tuf_signature(const TPMT_SIGNATURE& sig, KeyType type) {
    if (type == KeyType::ecdsa_p256) {
        if (sig.sigAlg != TPM2_ALG_ECDSA)
            throw Error(Errc::token_error, "the TPM returned a signature of another scheme", sig.sigAlg, "Esys_Sign");
        Bytes out = padded(sig.signature.ecdsa.signatureR.buffer, sig.signature.ecdsa.signatureR.size, kP256Size);
        Bytes s = padded(sig.signature.ecdsa.signatureS.buffer, sig.signature.ecdsa.signatureS.size, kP256Size);
        out.insert(out.end(), s.begin(), s.end());
        return out;
    }
    if (sig.sigAlg != TPM2_ALG_RSAPSS)
        throw Error(Errc::token_error, "the TPM returned a signature of another scheme", sig.sigAlg, "Esys_Sign");
    const auto& r = sig.signature.rsapss.sig;
    if (r.size != signature_size(type))
        throw Error(Errc::token_error, "the TPM returned a signature of unexpected length", r.size, "Esys_Sign");
    return Bytes(r.buffer, r.buffer + r.size);
}

} // namespace trustkey::backend::tpm2
