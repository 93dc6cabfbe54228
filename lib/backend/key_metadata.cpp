#include "lib/backend/key_metadata.h"

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/backend/backend.h"
#include "lib/keys/evp_key.h"
#include "lib/keys/openssl_ptr.h"
#include "lib/keys/public_key.h"
#include "lib/core/error.h"

namespace trustkey::backend {

namespace {

using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509, X509_free>>;

X509Ptr parse_der(std::span<const std::uint8_t> der) {
    const unsigned char* p = der.data();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert || p != der.data() + der.size()) {
        ERR_clear_error();
        return nullptr;
    }
    return cert;
}

Bytes to_der(X509* cert) {
    unsigned char* out = nullptr;
    const int len = i2d_X509(cert, &out);
    if (len <= 0) throw_openssl(Errc::internal, "cannot encode the certificate", "i2d_X509");
    std::unique_ptr<unsigned char, OpensslFree> owner(out);
    return Bytes(out, out + len);
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

} // namespace

void check_key_use(const KeyUse& use) {
    if (use.role.empty()) throw Error(Errc::invalid_argument, "a key use needs a role");
    for (const std::string* field : {&use.repository, &use.role}) {
        if (field->size() > kMaxUseField)
            throw Error(Errc::invalid_argument,
                        "a key use's repository or role is at most " + std::to_string(kMaxUseField) + " bytes");
        if (has_control(*field))
            throw Error(Errc::invalid_argument, "a key use's repository or role must not hold control characters");
    }
}

bool merge_metadata(KeyMetadata& into, const KeyMetadata& more) {
    KeyMetadata merged = into;
    for (const KeyUse& use : more.uses)
        if (std::find(merged.uses.begin(), merged.uses.end(), use) == merged.uses.end()) merged.uses.push_back(use);
    for (const Bytes& cert : more.certificates)
        if (std::find(merged.certificates.begin(), merged.certificates.end(), cert) == merged.certificates.end())
            merged.certificates.push_back(cert);
    if (merged.uses.size() > kMaxKeyUses)
        throw Error(Errc::invalid_argument, "a key keeps at most " + std::to_string(kMaxKeyUses) + " uses");
    if (merged.certificates.size() > kMaxKeyCertificates)
        throw Error(Errc::invalid_argument,
                    "a key keeps at most " + std::to_string(kMaxKeyCertificates) + " certificates");
    const bool changed = merged != into;
    into = std::move(merged);
    return changed;
}

Bytes certificate_der(std::span<const std::uint8_t> der_or_pem) {
    if (der_or_pem.empty()) throw Error(Errc::invalid_argument, "the certificate is empty");
    if (der_or_pem.size() > kMaxCertificateSize)
        throw Error(Errc::invalid_argument,
                    "a certificate is at most " + std::to_string(kMaxCertificateSize) + " bytes");
    const std::string_view text(reinterpret_cast<const char*>(der_or_pem.data()), der_or_pem.size());
    if (text.find("-----BEGIN") == std::string_view::npos) {
        X509Ptr cert = parse_der(der_or_pem);
        if (!cert) throw Error(Errc::invalid_argument, "the certificate is neither PEM nor DER X.509");
        return to_der(cert.get());
    }
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (!bio) throw_openssl(Errc::internal, "out of memory", "BIO_new_mem_buf");
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
        ERR_clear_error();
        throw Error(Errc::invalid_argument, "the PEM text holds no readable X.509 certificate");
    }
    if (X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)))
        throw Error(Errc::invalid_argument, "give one certificate at a time, not a chain");
    ERR_clear_error();
    return to_der(cert.get());
}

void check_certificate_of(std::span<const std::uint8_t> cert_der, std::span<const std::uint8_t> spki_der) {
    X509Ptr cert = parse_der(cert_der);
    if (!cert) throw Error(Errc::invalid_argument, "the certificate does not parse");
    const X509_PUBKEY* pub = X509_get_X509_PUBKEY(cert.get());
    unsigned char* out = nullptr;
    const int len = pub ? i2d_X509_PUBKEY(pub, &out) : -1;
    if (len <= 0) throw Error(Errc::invalid_argument, "the certificate holds no readable public key");
    std::unique_ptr<unsigned char, OpensslFree> owner(out);
    if (!std::equal(out, out + len, spki_der.begin(), spki_der.end()))
        throw Error(Errc::invalid_argument, "the certificate is for another public key than this key's");
}

std::string certificate_pem(std::span<const std::uint8_t> cert_der) { return pem_armor("CERTIFICATE", cert_der); }

std::string certificate_key_id(std::span<const std::uint8_t> cert_der) {
    X509Ptr cert = parse_der(cert_der);
    if (!cert) return {};
    const EVP_PKEY* pkey = X509_get0_pubkey(cert.get());
    std::string keytype;
    if (pkey && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC)
        keytype = "ecdsa-x509";
    else if (pkey && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA)
        keytype = "rsa-x509";
    ERR_clear_error();
    if (keytype.empty()) return {};
    const std::string json = R"({"keytype":")" + keytype + R"(","keyval":{"private":null,"public":")" +
                             to_base64(as_bytes(certificate_pem(cert_der))) + R"("}})";
    return to_hex(sha256(as_bytes(json)));
}

namespace {

// When the certificate starts to be valid, as seconds since the epoch; 0 when unreadable.
std::int64_t not_before(const Bytes& der) {
    X509Ptr cert = parse_der(der);
    std::tm tm{};
    if (!cert || ASN1_TIME_to_tm(X509_get0_notBefore(cert.get()), &tm) != 1) {
        ERR_clear_error();
        return 0;
    }
    return static_cast<std::int64_t>(timegm(&tm));
}

} // namespace

void attach_metadata(KeyInfo& key, KeyMetadata meta) {
    // Oldest first, whatever order the backend returned them in (a token's object search has none).
    std::vector<std::pair<std::int64_t, Bytes>> dated;
    for (Bytes& cert : meta.certificates) dated.emplace_back(not_before(cert), std::move(cert));
    std::sort(dated.begin(), dated.end());
    meta.certificates.clear();
    for (auto& [when, cert] : dated) meta.certificates.push_back(std::move(cert));
    key.certificate_ids.clear();
    for (const Bytes& cert : meta.certificates)
        if (std::string id = certificate_key_id(cert); !id.empty()) key.certificate_ids.push_back(std::move(id));
    key.meta = std::move(meta);
}

nlohmann::json uses_json(const std::vector<KeyUse>& uses) {
    nlohmann::json list = nlohmann::json::array();
    for (const KeyUse& u : uses) list.push_back({{"repository", u.repository}, {"role", u.role}});
    return list;
}

std::vector<KeyUse> uses_from_json(const nlohmann::json& list) {
    std::vector<KeyUse> out;
    try {
        for (const auto& u : list) {
            KeyUse use{u.at("repository").get<std::string>(), u.at("role").get<std::string>()};
            check_key_use(use);
            out.push_back(std::move(use));
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(Errc::bad_key_format, std::string("unreadable key uses: ") + e.what());
    } catch (const Error& e) {
        throw Error(Errc::bad_key_format, "unreadable key uses: " + e.message());
    }
    return out;
}

std::string metadata_json(const KeyMetadata& meta) {
    nlohmann::json certs = nlohmann::json::array();
    for (const Bytes& c : meta.certificates) certs.push_back(to_base64(c));
    return nlohmann::json{{"certificates", certs}, {"uses", uses_json(meta.uses)}}.dump() + "\n";
}

KeyMetadata metadata_from_json(std::string_view text) {
    KeyMetadata meta;
    try {
        const auto doc = nlohmann::json::parse(text);
        meta.uses = uses_from_json(doc.at("uses"));
        for (const auto& c : doc.at("certificates")) {
            auto der = from_base64(c.get<std::string>());
            if (!der) throw Error(Errc::bad_key_format, "a certificate is not base64");
            meta.certificates.push_back(std::move(*der));
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(Errc::bad_key_format, std::string("unreadable key metadata: ") + e.what());
    }
    return meta;
}

} // namespace trustkey::backend
