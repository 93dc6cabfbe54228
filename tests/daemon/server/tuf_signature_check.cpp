#include "tests/daemon/server/tuf_signature_check.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <stdexcept>
#include <vector>

namespace trustkey::test {

namespace pb = agent::v1;

namespace {

struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct EcdsaSigFree {
    void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};
struct BnFree {
    void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

constexpr std::size_t kP256Half = 32;
constexpr int kPssSaltLength = 32;

// r||s, each 32 bytes, as the DER ECDSA-Sig-Value; empty when the length is wrong.
std::vector<unsigned char> raw_p256_to_der(std::span<const std::uint8_t> raw) {
    if (raw.size() != 2 * kP256Half) return {};
    std::unique_ptr<BIGNUM, BnFree> r(BN_bin2bn(raw.data(), kP256Half, nullptr));
    std::unique_ptr<BIGNUM, BnFree> s(BN_bin2bn(raw.data() + kP256Half, kP256Half, nullptr));
    std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
    if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return {};
    r.release();  // owned by sig now
    s.release();
    const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (len <= 0) return {};
    std::vector<unsigned char> der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_ECDSA_SIG(sig.get(), &p);
    return der;
}

} // namespace

TufSignatureCheck::TufSignatureCheck(pb::KeyType type, std::span<const std::uint8_t> spki_der) : m_type(type) {
    const unsigned char* p = spki_der.data();
    m_key.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
    if (!m_key || p != spki_der.data() + spki_der.size())
        throw std::runtime_error("public key is not a DER SubjectPublicKeyInfo");
    const bool matches = (type == pb::KEY_TYPE_ECDSA_P256 && EVP_PKEY_is_a(m_key.get(), "EC")) ||
                         ((type == pb::KEY_TYPE_RSA_2048 || type == pb::KEY_TYPE_RSA_4096) &&
                          EVP_PKEY_is_a(m_key.get(), "RSA")) ||
                         (type == pb::KEY_TYPE_ED25519 && EVP_PKEY_is_a(m_key.get(), "ED25519"));
    if (!matches) throw std::runtime_error("public key does not match its key type " + pb::KeyType_Name(type));
}

bool TufSignatureCheck::verifies(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) const {
    if (m_type == pb::KEY_TYPE_ED25519) {
        std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
        if (!md || EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, m_key.get()) != 1) return false;
        return EVP_DigestVerify(md.get(), signature.data(), signature.size(), data.data(), data.size()) == 1;
    }
    PkeyCtx ctx(EVP_PKEY_CTX_new(m_key.get(), nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1)
        return false;
    if (m_type == pb::KEY_TYPE_ECDSA_P256) {
        const auto der = raw_p256_to_der(signature);
        if (der.empty()) return false;
        return EVP_PKEY_verify(ctx.get(), der.data(), der.size(), data.data(), data.size()) == 1;
    }
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), kPssSaltLength) != 1)
        return false;
    return EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()) == 1;
}

} // namespace trustkey::test
