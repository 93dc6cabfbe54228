#include "lib/backend/pkcs11/key_metadata_objects.h"

#include <algorithm>
#include <string_view>

#include <nlohmann/json.hpp>
#include <openssl/x509.h>

#include "lib/keys/openssl_ptr.h"
#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/object_attributes.h"
#include "lib/backend/pkcs11/object_search.h"

namespace trustkey::backend::pkcs11 {

namespace {

constexpr std::string_view kApplication = "trustkey";

using X509Ptr = std::unique_ptr<X509, keys::OsslDeleter<X509, X509_free>>;

// The DER encodings PKCS#11 wants beside an X.509 certificate's value.
struct CertificateFields {
    Bytes subject, issuer, serial;
};

template <typename T, int (*Encode)(const T*, unsigned char**)>
Bytes der_of(const T* value) {
    unsigned char* out = nullptr;
    const int len = value ? Encode(value, &out) : -1;
    if (len <= 0) throw Error(Errc::invalid_argument, "the certificate cannot be read");
    std::unique_ptr<unsigned char, keys::OpensslFree> owner(out);
    return Bytes(out, out + len);
}

CertificateFields fields_of(const Bytes& der) {
    const unsigned char* p = der.data();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert) throw Error(Errc::invalid_argument, "the certificate does not parse");
    return CertificateFields{der_of<X509_NAME, i2d_X509_NAME>(X509_get_subject_name(cert.get())),
                             der_of<X509_NAME, i2d_X509_NAME>(X509_get_issuer_name(cert.get())),
                             der_of<ASN1_INTEGER, i2d_ASN1_INTEGER>(X509_get0_serialNumber(cert.get()))};
}

std::vector<CK_OBJECT_HANDLE> certificate_objects(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE s, const Bytes* ckaid) {
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE type = CKC_X_509;
    std::vector<CK_ATTRIBUTE> templ{attr(CKA_CLASS, cls), attr(CKA_CERTIFICATE_TYPE, type)};
    if (ckaid) templ.push_back(attr(CKA_ID, ckaid->data(), ckaid->size()));
    return find_objects(fn, s, templ);
}

std::vector<CK_OBJECT_HANDLE> use_objects(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE s) {
    CK_OBJECT_CLASS cls = CKO_DATA;
    return find_objects(fn, s, {attr(CKA_CLASS, cls), attr(CKA_APPLICATION, kApplication.data(), kApplication.size())});
}

void add_uses(StoredMetadata& into, const std::vector<KeyUse>& uses) {
    for (const KeyUse& u : uses)
        if (std::find(into.meta.uses.begin(), into.meta.uses.end(), u) == into.meta.uses.end())
            into.meta.uses.push_back(u);
}

void destroy(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE object, const std::string& subject) {
    const CK_RV rv = fn->C_DestroyObject(s, object);
    if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID) throw ck_error("C_DestroyObject", rv, subject);
}

} // namespace

std::map<Bytes, StoredMetadata> read_token_metadata(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE s) {
    std::map<Bytes, StoredMetadata> out;
    for (CK_OBJECT_HANDLE h : certificate_objects(fn, s, nullptr)) {
        auto id = read_attribute(fn, s, h, CKA_ID);
        auto value = read_attribute(fn, s, h, CKA_VALUE);
        if (!id || id->empty() || !value || value->empty()) continue;
        StoredMetadata& m = out[*id];
        m.certificate_objects.push_back(h);
        if (std::find(m.meta.certificates.begin(), m.meta.certificates.end(), *value) == m.meta.certificates.end())
            m.meta.certificates.push_back(std::move(*value));
    }
    for (CK_OBJECT_HANDLE h : use_objects(fn, s)) {
        auto value = read_attribute(fn, s, h, CKA_VALUE);
        if (!value) continue;
        try {
            const auto doc = nlohmann::json::parse(value->begin(), value->end());
            auto ckaid = from_hex(doc.at("ckaid").get<std::string>());
            if (!ckaid || ckaid->empty()) continue;
            std::vector<KeyUse> uses = uses_from_json(doc.at("uses"));
            StoredMetadata& m = out[*ckaid];
            m.use_objects.push_back(h);
            add_uses(m, uses);
        } catch (const nlohmann::json::exception&) {
            continue;  // not ours, or damaged: it names no key we can trust
        } catch (const Error&) {
            continue;
        }
    }
    return out;
}

KeyMetadata add_key_metadata(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE s, const Bytes& ckaid, const KeyMetadata& more) {
    auto all = read_token_metadata(fn, s);
    StoredMetadata stored = all.count(ckaid) ? all.at(ckaid) : StoredMetadata{};
    KeyMetadata merged = stored.meta;
    if (!merge_metadata(merged, more)) return merged;
    const std::string subject = to_hex(ckaid);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    for (const Bytes& cert : merged.certificates) {
        if (std::find(stored.meta.certificates.begin(), stored.meta.certificates.end(), cert) !=
            stored.meta.certificates.end())
            continue;
        const CertificateFields f = fields_of(cert);
        CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
        CK_CERTIFICATE_TYPE type = CKC_X_509;
        std::vector<CK_ATTRIBUTE> templ{attr(CKA_CLASS, cls),
                                        attr(CKA_CERTIFICATE_TYPE, type),
                                        attr(CKA_TOKEN, yes),
                                        attr(CKA_PRIVATE, no),
                                        attr(CKA_ID, ckaid.data(), ckaid.size()),
                                        attr(CKA_VALUE, cert.data(), cert.size()),
                                        attr(CKA_SUBJECT, f.subject.data(), f.subject.size()),
                                        attr(CKA_ISSUER, f.issuer.data(), f.issuer.size()),
                                        attr(CKA_SERIAL_NUMBER, f.serial.data(), f.serial.size())};
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        check_rv("C_CreateObject", fn->C_CreateObject(s, templ.data(), static_cast<CK_ULONG>(templ.size()), &h),
                 subject);
    }
    if (merged.uses != stored.meta.uses) {
        const std::string json =
            nlohmann::json{{"ckaid", to_hex(ckaid)}, {"uses", uses_json(merged.uses)}}.dump();
        CK_OBJECT_CLASS cls = CKO_DATA;
        std::vector<CK_ATTRIBUTE> templ{attr(CKA_CLASS, cls),
                                        attr(CKA_TOKEN, yes),
                                        attr(CKA_PRIVATE, yes),
                                        attr(CKA_APPLICATION, kApplication.data(), kApplication.size()),
                                        attr(CKA_VALUE, json.data(), json.size())};
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        check_rv("C_CreateObject", fn->C_CreateObject(s, templ.data(), static_cast<CK_ULONG>(templ.size()), &h),
                 subject);
        // The new object is complete on the token: only now do the old ones go.
        for (CK_OBJECT_HANDLE old : stored.use_objects) destroy(fn, s, old, subject);
    }
    return merged;
}

void remove_key_metadata(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE s, const Bytes& ckaid) {
    auto all = read_token_metadata(fn, s);
    const auto it = all.find(ckaid);
    if (it == all.end()) return;
    const std::string subject = to_hex(ckaid);
    for (CK_OBJECT_HANDLE h : it->second.use_objects) destroy(fn, s, h, subject);
    for (CK_OBJECT_HANDLE h : it->second.certificate_objects) destroy(fn, s, h, subject);
}

} // namespace trustkey::backend::pkcs11
