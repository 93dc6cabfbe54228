#include "lib/backend/tpm2/key_import.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "lib/keys/openssl_ptr.h"
#include "lib/core/secure_bytes.h"

namespace trustkey::backend::tpm2 {

namespace {

constexpr std::size_t kDigestSize = 32;  // SHA-256, the parent's name algorithm
constexpr std::size_t kAesKeySize = 16;  // AES-128, the parent's symmetric algorithm

using Digest = std::array<std::uint8_t, kDigestSize>;

void check_ossl(bool ok, const char* call) {
    if (!ok) throw_openssl(Errc::internal, "cannot wrap the key for the TPM", call);
}

void check_mu(TSS2_RC rc, const char* call) {
    if (rc != TSS2_RC_SUCCESS) 
        throw Error(Errc::internal, "cannot encode TPM data", rc, call).with_domain(ErrorDomain::tpm);
}

Bytes bn_bytes(EVP_PKEY* pkey, const char* param, std::size_t size) {
    BIGNUM* raw = nullptr;
    check_ossl(EVP_PKEY_get_bn_param(pkey, param, &raw) == 1, "EVP_PKEY_get_bn_param");
    BignumPtr bn(raw);
    Bytes out(size);
    check_ossl(BN_bn2binpad(bn.get(), out.data(), static_cast<int>(size)) == static_cast<int>(size), "BN_bn2binpad");
    return out;
}

template <typename B>
void put(B& dst, const Bytes& src) {
    if (src.size() > sizeof dst.buffer) throw Error(Errc::internal, "value too large for a TPM buffer");
    dst.size = static_cast<UINT16>(src.size());
    std::copy(src.begin(), src.end(), dst.buffer);
}

Digest sha256_of(const std::uint8_t* data, std::size_t len) {
    Digest d{};
    check_ossl(EVP_Digest(data, len, d.data(), nullptr, EVP_sha256(), nullptr) == 1, "EVP_Digest");
    return d;
}

Digest hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
    Digest d{};
    std::size_t len = 0;
    check_ossl(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), data.data(), data.size(),
                         d.data(), d.size(), &len) != nullptr &&
                   len == d.size(),
               "EVP_Q_mac");
    return d;
}

void append_u32(Bytes& b, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(v >> shift));
}

// KDFa (TPM 2.0 part 1, 11.4.10.2) with HMAC-SHA-256, for at most 256 bits.
SecureBytes kdfa(std::span<const std::uint8_t> key, const char* label, std::span<const std::uint8_t> context_u,
                 std::size_t bits) {
    Bytes in;
    append_u32(in, 1);
    in.insert(in.end(), label, label + std::strlen(label) + 1);
    in.insert(in.end(), context_u.begin(), context_u.end());
    append_u32(in, static_cast<std::uint32_t>(bits));
    Digest d = hmac_sha256(key, in);
    SecureBytes out(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(bits / 8));
    OPENSSL_cleanse(d.data(), d.size());
    return out;
}

// KDFe (part 1, 11.4.10.3) with SHA-256, 256 bits.
SecureBytes kdfe(std::span<const std::uint8_t> z, const char* label, std::span<const std::uint8_t> party_u,
                 std::span<const std::uint8_t> party_v) {
    SecureBytes in;
    for (int shift = 24; shift >= 0; shift -= 8) in.push_back(static_cast<std::uint8_t>(1u >> shift));
    in.insert(in.end(), z.begin(), z.end());
    in.insert(in.end(), label, label + std::strlen(label) + 1);
    in.insert(in.end(), party_u.begin(), party_u.end());
    in.insert(in.end(), party_v.begin(), party_v.end());
    Digest d = sha256_of(in.data(), in.size());
    SecureBytes out(d.begin(), d.end());
    OPENSSL_cleanse(d.data(), d.size());
    return out;
}

EvpPkeyPtr p256_public(const Bytes& x, const Bytes& y) {
    Bytes point{0x04};
    point.insert(point.end(), x.begin(), x.end());
    point.insert(point.end(), y.begin(), y.end());
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    check_ossl(bld && OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
                   OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1,
               "OSSL_PARAM_BLD_push");
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
        throw_openssl(Errc::token_error, "the TPM's storage key is not a usable P-256 key", "EVP_PKEY_fromdata");
    return EvpPkeyPtr(raw);
}

// The public area and sensitive area of the key, as the TPM will hold it.
void describe_key(const PrivateKey& key, TPM2B_PUBLIC& pub, TPMT_SENSITIVE& sens) {
    EVP_PKEY* pkey = key.get();
    TPMT_PUBLIC& p = pub.publicArea;
    p.nameAlg = TPM2_ALG_SHA256;
    p.objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
    if (key.type() == KeyType::ecdsa_p256) {
        p.type = TPM2_ALG_ECC;
        auto& ecc = p.parameters.eccDetail;
        ecc.symmetric.algorithm = TPM2_ALG_NULL;
        ecc.scheme.scheme = TPM2_ALG_ECDSA;
        ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        ecc.curveID = TPM2_ECC_NIST_P256;
        ecc.kdf.scheme = TPM2_ALG_NULL;
        put(p.unique.ecc.x, bn_bytes(pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32));
        put(p.unique.ecc.y, bn_bytes(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
        sens.sensitiveType = TPM2_ALG_ECC;
        Bytes d = bn_bytes(pkey, OSSL_PKEY_PARAM_PRIV_KEY, 32);
        put(sens.sensitive.ecc, d);
        OPENSSL_cleanse(d.data(), d.size());
        return;
    }
    if (key.type() == KeyType::rsa_2048) {
        p.type = TPM2_ALG_RSA;
        auto& rsa = p.parameters.rsaDetail;
        rsa.symmetric.algorithm = TPM2_ALG_NULL;
        rsa.scheme.scheme = TPM2_ALG_RSAPSS;
        rsa.scheme.details.rsapss.hashAlg = TPM2_ALG_SHA256;
        rsa.keyBits = 2048;
        Bytes e = bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_E, 4);
        const std::uint32_t exponent = (std::uint32_t{e[0]} << 24) | (std::uint32_t{e[1]} << 16) |
                                       (std::uint32_t{e[2]} << 8) | e[3];
        rsa.exponent = exponent == 65537 ? 0 : exponent;
        put(p.unique.rsa, bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_N, 256));
        sens.sensitiveType = TPM2_ALG_RSA;
        Bytes prime = bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, 128);
        put(sens.sensitive.rsa, prime);
        OPENSSL_cleanse(prime.data(), prime.size());
        return;
    }
    throw Error(Errc::unsupported_algorithm, std::string("a ") + std::string(key_type_name(key.type())) +
                                                 " key cannot be moved into a TPM (ECDSA P-256 and RSA-2048 can)");
}

} // namespace

ImportWrap::~ImportWrap() { OPENSSL_cleanse(&duplicate, sizeof duplicate); }

ImportWrap wrap_for_import(const PrivateKey& key, const TPMT_PUBLIC& parent, const TPM2B_AUTH& auth) {
    if (parent.type != TPM2_ALG_ECC || parent.nameAlg != TPM2_ALG_SHA256 ||
        parent.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
        parent.parameters.eccDetail.symmetric.algorithm != TPM2_ALG_AES ||
        parent.parameters.eccDetail.symmetric.keyBits.aes != 128 ||
        parent.parameters.eccDetail.symmetric.mode.aes != TPM2_ALG_CFB)
        throw Error(Errc::unsupported_algorithm,
                    "the TPM storage key is not ECC P-256 with AES-128-CFB; cannot wrap a key to it");
    ImportWrap out;
    TPMT_SENSITIVE sens{};
    struct Wipe {
        TPMT_SENSITIVE& s;
        ~Wipe() { OPENSSL_cleanse(&s, sizeof s); }
    } wipe{sens};
    describe_key(key, out.pub, sens);
    sens.authValue = auth;

    // The object's name: nameAlg || SHA-256(TPMT_PUBLIC).
    std::array<std::uint8_t, sizeof(TPMT_PUBLIC)> pub_buf{};
    std::size_t off = 0;
    check_mu(Tss2_MU_TPMT_PUBLIC_Marshal(&out.pub.publicArea, pub_buf.data(), pub_buf.size(), &off),
             "Tss2_MU_TPMT_PUBLIC_Marshal");
    const Digest pub_hash = sha256_of(pub_buf.data(), off);
    Bytes name{static_cast<std::uint8_t>(TPM2_ALG_SHA256 >> 8), static_cast<std::uint8_t>(TPM2_ALG_SHA256 & 0xff)};
    name.insert(name.end(), pub_hash.begin(), pub_hash.end());

    // The seed: ECDH between an ephemeral key and the parent's key, through KDFe.
    const Bytes parent_x(parent.unique.ecc.x.buffer, parent.unique.ecc.x.buffer + parent.unique.ecc.x.size);
    const Bytes parent_y(parent.unique.ecc.y.buffer, parent.unique.ecc.y.buffer + parent.unique.ecc.y.size);
    EvpPkeyPtr parent_key = p256_public(parent_x, parent_y);
    EvpPkeyPtr ephemeral(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    check_ossl(ephemeral != nullptr, "EVP_PKEY_Q_keygen");
    EvpPkeyCtxPtr dctx(EVP_PKEY_CTX_new(ephemeral.get(), nullptr));
    SecureBytes z(32);
    std::size_t z_len = z.size();
    check_ossl(dctx && EVP_PKEY_derive_init(dctx.get()) == 1 && EVP_PKEY_derive_set_peer(dctx.get(), parent_key.get()) == 1 &&
                   EVP_PKEY_derive(dctx.get(), z.data(), &z_len) == 1 && z_len == z.size(),
               "EVP_PKEY_derive");
    const Bytes eph_x = bn_bytes(ephemeral.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32);
    const Bytes eph_y = bn_bytes(ephemeral.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    const SecureBytes seed = kdfe(z, "DUPLICATE", eph_x, parent_x);
    TPMS_ECC_POINT point{};
    put(point.x, eph_x);
    put(point.y, eph_y);
    off = 0;
    check_mu(Tss2_MU_TPMS_ECC_POINT_Marshal(&point, out.sym_seed.secret, sizeof out.sym_seed.secret, &off),
             "Tss2_MU_TPMS_ECC_POINT_Marshal");
    out.sym_seed.size = static_cast<UINT16>(off);

    // The sensitive area (TPM2B_SENSITIVE, no inner wrapper), encrypted with AES-128-CFB
    // under a key derived from the seed and the name, then the outer HMAC over it.
    TPM2B_SENSITIVE sens2b{};
    sens2b.sensitiveArea = sens;
    SecureBytes plain(sizeof(TPM2B_SENSITIVE));
    off = 0;
    const TSS2_RC rc = Tss2_MU_TPM2B_SENSITIVE_Marshal(&sens2b, plain.data(), plain.size(), &off);
    OPENSSL_cleanse(&sens2b, sizeof sens2b);
    check_mu(rc, "Tss2_MU_TPM2B_SENSITIVE_Marshal");
    plain.resize(off);
    const SecureBytes sym_key = kdfa(seed, "STORAGE", name, kAesKeySize * 8);
    Bytes enc(plain.size());
    {
        std::unique_ptr<EVP_CIPHER_CTX, OsslDeleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>> cctx(EVP_CIPHER_CTX_new());
        const std::array<std::uint8_t, 16> iv{};
        int len = 0, fin = 0;
        check_ossl(cctx && EVP_EncryptInit_ex(cctx.get(), EVP_aes_128_cfb128(), nullptr, sym_key.data(), iv.data()) == 1 &&
                       EVP_EncryptUpdate(cctx.get(), enc.data(), &len, plain.data(), static_cast<int>(plain.size())) == 1 &&
                       EVP_EncryptFinal_ex(cctx.get(), enc.data() + len, &fin) == 1 &&
                       static_cast<std::size_t>(len + fin) == enc.size(),
                   "EVP_Encrypt");
    }
    const SecureBytes hmac_key = kdfa(seed, "INTEGRITY", {}, kDigestSize * 8);
    Bytes mac_input = enc;
    mac_input.insert(mac_input.end(), name.begin(), name.end());
    const Digest outer = hmac_sha256(hmac_key, mac_input);

    Bytes dup{static_cast<std::uint8_t>(kDigestSize >> 8), static_cast<std::uint8_t>(kDigestSize & 0xff)};
    dup.insert(dup.end(), outer.begin(), outer.end());
    dup.insert(dup.end(), enc.begin(), enc.end());
    put(out.duplicate, dup);
    return out;
}

} // namespace trustkey::backend::tpm2
