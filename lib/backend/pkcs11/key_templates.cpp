#include "lib/backend/pkcs11/key_templates.h"

#include <openssl/core_names.h>

#include "lib/keys/evp_key.h"
#include "lib/keys/openssl_ptr.h"
#include "lib/backend/pkcs11/object_attributes.h"

namespace trustkey::backend::pkcs11 {

const Bytes kP256Params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const Bytes kEd25519Params = {0x06, 0x03, 0x2b, 0x65, 0x70};

namespace {

// PrintableString "edwards25519", the other form modules use for the curve.
const Bytes kEd25519NameParams = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};

// CKA_EC_POINT is a DER OCTET STRING holding the point; some modules return the bare point.
Bytes unwrap_point(const Bytes& value, std::size_t point_size) {
    if (value.size() == point_size) return value;
    const unsigned char* p = value.data();
    OctetStringPtr os(d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(value.size())));
    if (!os || p != value.data() + value.size() || static_cast<std::size_t>(ASN1_STRING_length(os.get())) != point_size)
        throw Error(Errc::bad_key_format, "cannot read the token's CKA_EC_POINT");
    const unsigned char* d = ASN1_STRING_get0_data(os.get());
    return Bytes(d, d + point_size);
}

Bytes wrap_point(std::span<const std::uint8_t> point) {
    OctetStringPtr os(ASN1_OCTET_STRING_new());
    if (!os || ASN1_OCTET_STRING_set(os.get(), point.data(), static_cast<int>(point.size())) != 1)
        throw_openssl(Errc::internal, "out of memory", "ASN1_OCTET_STRING_set");
    unsigned char* der = nullptr;
    int len = i2d_ASN1_OCTET_STRING(os.get(), &der);
    if (len <= 0) throw_openssl(Errc::internal, "cannot encode the EC point", "i2d_ASN1_OCTET_STRING");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

EvpPkeyPtr pkey_from_params(const char* algorithm, OSSL_PARAM_BLD* bld) {
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
        throw_openssl(Errc::bad_key_format, "cannot build a public key from the token's attributes",
                      "EVP_PKEY_fromdata");
    return EvpPkeyPtr(raw);
}

BignumPtr to_bn(const Bytes& b) {
    BignumPtr bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr));
    if (!bn) throw_openssl(Errc::internal, "out of memory", "BN_bin2bn");
    return bn;
}

SecureBytes bn_param(EVP_PKEY* pkey, const char* name, int size = 0) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1)
        throw_openssl(Errc::bad_key_format, std::string("the private key has no ") + name, "EVP_PKEY_get_bn_param");
    BignumPtr bn(raw);
    int len = size > 0 ? size : BN_num_bytes(bn.get());
    SecureBytes out(static_cast<std::size_t>(len));
    if (BN_bn2binpad(bn.get(), out.data(), len) != len)
        throw_openssl(Errc::internal, "cannot encode a key component", "BN_bn2binpad");
    return out;
}

} // namespace

std::optional<Bytes> spki_from_token(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE pub,
                                     CK_KEY_TYPE key_type) {
    try {
        if (key_type == CKK_EC) {
            auto params = read_attribute(fn, session, pub, CKA_EC_PARAMS);
            auto point = read_attribute(fn, session, pub, CKA_EC_POINT);
            if (!params || !point || *params != kP256Params) return std::nullopt;
            Bytes raw = unwrap_point(*point, 65);
            ParamBldPtr bld(OSSL_PARAM_BLD_new());
            if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
                OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, raw.data(), raw.size()) != 1)
                throw_openssl(Errc::internal, "out of memory", "OSSL_PARAM_BLD_push");
            auto pkey = pkey_from_params("EC", bld.get());
            key_type_of(pkey.get());
            return spki_of(pkey.get());
        }
        if (key_type == CKK_EC_EDWARDS) {
            auto params = read_attribute(fn, session, pub, CKA_EC_PARAMS);
            auto point = read_attribute(fn, session, pub, CKA_EC_POINT);
            if (!params || !point || (*params != kEd25519Params && *params != kEd25519NameParams)) return std::nullopt;
            Bytes raw = unwrap_point(*point, 32);
            EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
            if (!pkey) throw_openssl(Errc::bad_key_format, "bad ed25519 public key", "EVP_PKEY_new_raw_public_key");
            return spki_of(pkey.get());
        }
        if (key_type == CKK_RSA) {
            auto n = read_attribute(fn, session, pub, CKA_MODULUS);
            auto e = read_attribute(fn, session, pub, CKA_PUBLIC_EXPONENT);
            if (!n || !e) return std::nullopt;
            BignumPtr bn_n = to_bn(*n), bn_e = to_bn(*e);
            ParamBldPtr bld(OSSL_PARAM_BLD_new());
            if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
                OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
                throw_openssl(Errc::internal, "out of memory", "OSSL_PARAM_BLD_push_BN");
            auto pkey = pkey_from_params("RSA", bld.get());
            key_type_of(pkey.get());
            return spki_of(pkey.get());
        }
    } catch (const Error& e) {
        if (e.errc() == Errc::unsupported_algorithm || e.errc() == Errc::bad_key_format) return std::nullopt;
        throw;
    }
    return std::nullopt;
}

ImportValues import_values(const PrivateKey& key) {
    EVP_PKEY* pkey = key.get();
    ImportValues v;
    switch (key.type()) {
    case KeyType::ecdsa_p256: {
        v.key_type = CKK_EC;
        v.ec_params = kP256Params;
        v.ec_value = bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, 32);
        EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed");
        unsigned char point[65];
        std::size_t len = 0;
        if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &len) != 1 ||
            len != sizeof point)
            throw_openssl(Errc::bad_key_format, "cannot read the EC public point", "EVP_PKEY_get_octet_string_param");
        v.ec_point = wrap_point(point);
        break;
    }
    case KeyType::ed25519: {
        v.key_type = CKK_EC_EDWARDS;
        v.ec_params = kEd25519Params;
        std::size_t len = 32;
        v.ec_value.resize(32);
        unsigned char pub[32];
        std::size_t pub_len = sizeof pub;
        if (EVP_PKEY_get_raw_private_key(pkey, v.ec_value.data(), &len) != 1 || len != 32 ||
            EVP_PKEY_get_raw_public_key(pkey, pub, &pub_len) != 1 || pub_len != 32)
            throw_openssl(Errc::bad_key_format, "cannot read the ed25519 key", "EVP_PKEY_get_raw_private_key");
        v.ec_point = wrap_point(pub);
        break;
    }
    case KeyType::rsa_2048:
    case KeyType::rsa_4096: {
        v.key_type = CKK_RSA;
        SecureBytes n = bn_param(pkey, OSSL_PKEY_PARAM_RSA_N);
        SecureBytes e = bn_param(pkey, OSSL_PKEY_PARAM_RSA_E);
        v.modulus.assign(n.begin(), n.end());
        v.public_exponent.assign(e.begin(), e.end());
        v.private_exponent = bn_param(pkey, OSSL_PKEY_PARAM_RSA_D);
        v.prime1 = bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1);
        v.prime2 = bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2);
        v.exponent1 = bn_param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1);
        v.exponent2 = bn_param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2);
        v.coefficient = bn_param(pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
        break;
    }
    }
    return v;
}

} // namespace trustkey::backend::pkcs11
