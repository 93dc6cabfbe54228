#include "tools/trust/tuf/certificate.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include "lib/keys/evp_key.h"
#include "lib/core/error.h"
#include "tools/trust/tuf/x509_ptr.h"

namespace trustkey::tuf {

using keys::throw_openssl;

namespace {

constexpr std::size_t kSerialBytes = 16;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, keys::OsslDeleter<X509_ALGOR, X509_ALGOR_free>>;

void append_der_length(Bytes& out, std::size_t len) {
    if (len < 0x80) {
        out.push_back(static_cast<std::uint8_t>(len));
        return;
    }
    Bytes be;
    for (std::size_t v = len; v != 0; v >>= 8) be.insert(be.begin(), static_cast<std::uint8_t>(v & 0xFF));
    out.push_back(static_cast<std::uint8_t>(0x80 | be.size()));
    out.insert(out.end(), be.begin(), be.end());
}

void append_tlv(Bytes& out, std::uint8_t tag, std::span<const std::uint8_t> content) {
    out.push_back(tag);
    append_der_length(out, content.size());
    out.insert(out.end(), content.begin(), content.end());
}

void add_extension(X509* cert, int nid, const char* value) {
    X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, nullptr, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
        throw_openssl(Errc::internal, "cannot add a certificate extension", "X509_add_ext");
}

void set_serial(X509* cert) {
    std::uint8_t raw[kSerialBytes];
    if (RAND_bytes(raw, sizeof raw) != 1) throw_openssl(Errc::internal, "no random bytes", "RAND_bytes");
    keys::BignumPtr bn(BN_bin2bn(raw, sizeof raw, nullptr));
    if (!bn) throw_openssl(Errc::internal, "out of memory", "BN_bin2bn");
    Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    if (!serial || X509_set_serialNumber(cert, serial.get()) != 1)
        throw_openssl(Errc::internal, "cannot set the serial number", "X509_set_serialNumber");
}

void set_times(X509* cert, const CertificateRequest& req) {
    using namespace std::chrono;
    time_t start = system_clock::to_time_t(req.not_before);
    time_t end = system_clock::to_time_t(req.not_before + req.validity);
    if (!ASN1_TIME_set(X509_getm_notBefore(cert), start) || !ASN1_TIME_set(X509_getm_notAfter(cert), end))
        throw_openssl(Errc::internal, "cannot set the validity", "ASN1_TIME_set");
}

void set_name(X509* cert, const std::string& cn) {
    X509_NAME* name = X509_get_subject_name(cert);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.data()),
                                   static_cast<int>(cn.size()), -1, 0) != 1 ||
        X509_set_issuer_name(cert, name) != 1)
        throw_openssl(Errc::invalid_argument, "cannot set the certificate name", "X509_NAME_add_entry_by_txt");
}

// ECDSA raw r||s to DER ECDSA-Sig-Value; checks the length fits the key.
Bytes ecdsa_der_signature(std::span<const std::uint8_t> raw, int key_bits) {
    std::size_t half = static_cast<std::size_t>(key_bits + 7) / 8;
    if (raw.size() != 2 * half)
        throw Error(Errc::bad_key_format, "the signer returned " + std::to_string(raw.size()) +
                                              " bytes; an ECDSA signature for this key is " + std::to_string(2 * half));
    return keys::ecdsa_raw_to_der(raw);
}

} // namespace

std::string make_root_certificate(const CertificateRequest& request, const DigestSigner& signer) {
    if (request.common_name.empty()) throw Error(Errc::invalid_argument, "the certificate needs a common name (the GUN)");
    for (char c : request.common_name)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
            throw Error(Errc::invalid_argument, "the common name holds a control character");
    keys::EvpPkeyPtr pkey = keys::pkey_from_spki(request.spki_der);
    if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_EC)
        throw Error(Errc::unsupported_algorithm, "root certificates are made for ECDSA keys only");

    X509Ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
        throw_openssl(Errc::internal, "out of memory", "X509_new");
    set_serial(cert.get());
    set_name(cert.get(), request.common_name);
    set_times(cert.get(), request);
    if (X509_set_pubkey(cert.get(), pkey.get()) != 1)
        throw_openssl(Errc::bad_key_format, "cannot set the public key", "X509_set_pubkey");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_extension(cert.get(), NID_ext_key_usage, "codeSigning");
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");

    // OpenSSL 3.0 sets the signature algorithm only while signing with a private key it
    // holds. Set the inner AlgorithmIdentifier directly; the outer one is written below.
    auto* tbs_alg = const_cast<X509_ALGOR*>(X509_get0_tbs_sigalg(cert.get()));
    if (X509_ALGOR_set0(tbs_alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, nullptr) != 1)
        throw_openssl(Errc::internal, "cannot set the signature algorithm", "X509_ALGOR_set0");
    unsigned char* tbs_der = nullptr;
    int tbs_len = i2d_re_X509_tbs(cert.get(), &tbs_der);
    if (tbs_len <= 0) throw_openssl(Errc::internal, "cannot encode the certificate", "i2d_re_X509_tbs");
    Bytes tbs(tbs_der, tbs_der + tbs_len);
    OPENSSL_free(tbs_der);

    Bytes signature = ecdsa_der_signature(signer(sha256(tbs)), EVP_PKEY_get_bits(pkey.get()));

    X509AlgorPtr alg(X509_ALGOR_new());
    if (!alg || X509_ALGOR_set0(alg.get(), OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, nullptr) != 1)
        throw_openssl(Errc::internal, "out of memory", "X509_ALGOR_new");
    unsigned char* alg_der = nullptr;
    int alg_len = i2d_X509_ALGOR(alg.get(), &alg_der);
    if (alg_len <= 0) throw_openssl(Errc::internal, "cannot encode the algorithm", "i2d_X509_ALGOR");
    Bytes body = tbs;
    body.insert(body.end(), alg_der, alg_der + alg_len);
    OPENSSL_free(alg_der);
    Bytes bits{0x00}; // no unused bits
    bits.insert(bits.end(), signature.begin(), signature.end());
    append_tlv(body, 0x03, bits);
    Bytes der;
    append_tlv(der, 0x30, body);

    const unsigned char* p = der.data();
    X509Ptr signed_cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!signed_cert || p != der.data() + der.size())
        throw_openssl(Errc::internal, "the assembled certificate does not parse", "d2i_X509");
    if (X509_verify(signed_cert.get(), pkey.get()) != 1) {
        ERR_clear_error();
        throw Error(Errc::denied, "the signer's signature does not verify with the certificate's key");
    }
    return certificate_pem(signed_cert.get());
}

} // namespace trustkey::tuf
