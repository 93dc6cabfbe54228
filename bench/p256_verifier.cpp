#include "bench/p256_verifier.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/x509.h>

#include <string>

#include "lib/core/error.h"

namespace trustkey::bench {
namespace {

constexpr std::size_t kPointSize = 65;  // 0x04 || X || Y
constexpr std::size_t kHalf = 32;

struct CtxFree {
    void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
struct SigFree {
    void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); }
};
struct BnFree {
    void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;

[[noreturn]] void bad_key(const std::string& why) { throw Error(Errc::bad_key_format, why); }

} // namespace

P256Verifier P256Verifier::from_ec_point(std::span<const std::uint8_t> ec_point) {
    std::span<const std::uint8_t> point = ec_point;
    if (point.size() == kPointSize + 2 && point[0] == 0x04 && point[1] == kPointSize) point = point.subspan(2);
    if (point.size() != kPointSize || point[0] != 0x04) bad_key("CKA_EC_POINT is not an uncompressed P-256 point");

    CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) bad_key("EVP_PKEY_fromdata_init failed");
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<std::uint8_t*>(point.data()),
                                          point.size()),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY* key = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1 || !key)
        bad_key("the EC point is not on P-256");
    return P256Verifier(key);
}

P256Verifier P256Verifier::from_spki(std::span<const std::uint8_t> spki_der) {
    const unsigned char* p = spki_der.data();
    EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size()));
    if (!key) bad_key("not a DER SubjectPublicKeyInfo");
    if (p != spki_der.data() + spki_der.size()) {
        EVP_PKEY_free(key);
        bad_key("trailing bytes after the SubjectPublicKeyInfo");
    }
    return P256Verifier(key);
}

Bytes P256Verifier::spki_der() const {
    int len = i2d_PUBKEY(m_key.get(), nullptr);
    if (len <= 0) bad_key("i2d_PUBKEY failed");
    Bytes out(static_cast<std::size_t>(len));
    unsigned char* p = out.data();
    i2d_PUBKEY(m_key.get(), &p);
    return out;
}

bool P256Verifier::verify(std::span<const std::uint8_t> digest, std::span<const std::uint8_t> raw_signature) const {
    if (raw_signature.size() != 2 * kHalf) return false;
    std::unique_ptr<BIGNUM, BnFree> r(BN_bin2bn(raw_signature.data(), kHalf, nullptr));
    std::unique_ptr<BIGNUM, BnFree> s(BN_bin2bn(raw_signature.data() + kHalf, kHalf, nullptr));
    std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
    if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return false;
    r.release();
    s.release();
    int len = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (len <= 0) return false;
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_ECDSA_SIG(sig.get(), &p);

    CtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, m_key.get(), nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return false;
    return EVP_PKEY_verify(ctx.get(), der.data(), der.size(), digest.data(), digest.size()) == 1;
}

} // namespace trustkey::bench
