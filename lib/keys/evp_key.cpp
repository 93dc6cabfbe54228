#include "lib/keys/evp_key.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "lib/keys/openssl_ptr.h"

namespace trustkey::keys {

std::string openssl_error_text(const std::string& what) {
    unsigned long e = ERR_peek_last_error();
    std::string out = what;
    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += ": ";
        out += buf;
    }
    ERR_clear_error();
    return out;
}

void throw_openssl(Errc errc, const std::string& what, const std::string& call) {
    unsigned long code = ERR_peek_last_error();
    std::string text = openssl_error_text(what);
    throw Error(errc, text, code, call).with_domain(ErrorDomain::openssl);
}

KeyType key_type_of(EVP_PKEY* pkey) {
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC: {
        char group[64] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
            throw Error(Errc::unsupported_algorithm, "EC key without a named curve");
        std::string_view name(group, len);
        if (name == "prime256v1" || name == "P-256") return KeyType::ecdsa_p256;
        throw Error(Errc::unsupported_algorithm,
                    "EC curve " + std::string(name) + " is not supported (only P-256)");
    }
    case EVP_PKEY_RSA: {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits == 2048) return KeyType::rsa_2048;
        if (bits == 4096) return KeyType::rsa_4096;
        throw Error(Errc::unsupported_algorithm,
                    "RSA keys of " + std::to_string(bits) + " bits are not supported (only 2048 and 4096)");
    }
    case EVP_PKEY_ED25519: return KeyType::ed25519;
    default: break;
    }
    throw Error(Errc::unsupported_algorithm, "key algorithm is not supported (ecdsa P-256, rsa, ed25519 are)");
}

Bytes spki_of(EVP_PKEY* pkey) {
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC)
        EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed");
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(pkey, &der);
    if (len <= 0) throw_openssl(Errc::internal, "cannot encode the public key", "i2d_PUBKEY");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

EvpPkeyPtr pkey_from_spki(std::span<const std::uint8_t> spki_der) {
    const unsigned char* p = spki_der.data();
    EvpPkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
    if (!pkey) throw_openssl(Errc::bad_key_format, "not a DER SubjectPublicKeyInfo", "d2i_PUBKEY");
    if (p != spki_der.data() + spki_der.size())
        throw Error(Errc::bad_key_format, "trailing bytes after the SubjectPublicKeyInfo");
    return pkey;
}

Bytes ecdsa_raw_to_der(std::span<const std::uint8_t> raw) {
    std::size_t half = raw.size() / 2;
    BignumPtr r(BN_bin2bn(raw.data(), static_cast<int>(half), nullptr));
    BignumPtr s(BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr));
    EcdsaSigPtr sig(ECDSA_SIG_new());
    if (!r || !s || !sig) throw_openssl(Errc::internal, "out of memory", "ECDSA_SIG_new");
    if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1)
        throw_openssl(Errc::internal, "cannot build an ECDSA signature", "ECDSA_SIG_set0");
    r.release();
    s.release();
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(sig.get(), &der);
    if (len <= 0) throw_openssl(Errc::internal, "cannot encode an ECDSA signature", "i2d_ECDSA_SIG");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

} // namespace trustkey::keys
