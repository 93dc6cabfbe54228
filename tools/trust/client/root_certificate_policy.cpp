#include "tools/trust/client/root_certificate_policy.h"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tools/trust/client/update_failure.h"
#include "tools/trust/tuf/role_name.h"
#include "tools/trust/tuf/x509_ptr.h"

namespace trustkey::trust {

namespace {

bool is_ca(X509* cert) { return (X509_get_extension_flags(cert) & EXFLAG_CA) != 0; }

std::string common_name(X509* cert) {
    X509_NAME* subject = X509_get_subject_name(cert);
    int index = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
    if (index < 0) return {};
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    if (!data) return {};
    return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)), static_cast<std::size_t>(ASN1_STRING_length(data))};
}

std::string weak_signature(X509* cert) {
    int md_nid = NID_undef;
    int pkey_nid = NID_undef;
    if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pkey_nid) != 1) return {};
    if (md_nid == NID_sha1 || md_nid == NID_md5) return OBJ_nid2sn(md_nid);
    return {};
}

std::string time_text(tuf::Expiry t) { return tuf::format_expiry(std::chrono::time_point_cast<std::chrono::seconds>(t)); }

} // namespace

bool RootCertificatePolicy::cn_matches_gun(std::string_view cn, std::string_view gun) noexcept {
    if (cn == gun) return true;
    if (!cn.empty() && cn.back() == '*') return gun.starts_with(cn.substr(0, cn.size() - 1));
    return false;
}

std::string RootCertificatePolicy::problem(const tuf::Key& key, tuf::Expiry now, bool check_dates) const {
    if (!key.is_x509()) return "is a bare " + std::string(key.keytype()) + " key, not an x509 certificate";
    std::vector<tuf::X509Ptr> certs;
    try {
        certs = tuf::parse_certificates_pem(
            std::string_view(reinterpret_cast<const char*>(key.public_bytes().data()), key.public_bytes().size()));
    } catch (const Error& e) {
        return "holds no readable certificate (" + e.message() + ")";
    }
    std::size_t leaves = 0;
    for (const auto& c : certs) leaves += is_ca(c.get()) ? 0 : 1;
    if (leaves != 1) return "holds " + std::to_string(leaves) + " leaf certificates, not one";
    X509* leaf = certs.front().get();
    if (is_ca(leaf)) return "does not start with its leaf certificate (the first is a CA)";

    std::string cn = common_name(leaf);
    if (!cn_matches_gun(cn, m_gun))
        return "has a certificate for common name \"" + cn + "\", not for the GUN \"" + m_gun + "\"";
    if (std::string md = weak_signature(leaf); !md.empty()) return "has a certificate signed with " + md;
    if (EVP_PKEY* pkey = X509_get0_pubkey(leaf); pkey && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
                                                 EVP_PKEY_get_bits(pkey) < 2048)
        return "has an RSA key of " + std::to_string(EVP_PKEY_get_bits(pkey)) + " bits (2048 at least)";
    if (check_dates) {
        using namespace std::chrono;
        time_t ahead = system_clock::to_time_t(time_point_cast<system_clock::duration>(now + hours(24)));
        time_t at = system_clock::to_time_t(time_point_cast<system_clock::duration>(now));
        if (X509_cmp_time(X509_get0_notBefore(leaf), &ahead) >= 0)
            return "has a certificate not valid before a day from now (" + time_text(now) + ")";
        if (X509_cmp_time(X509_get0_notAfter(leaf), &at) <= 0)
            return "has a certificate that expired before " + time_text(now);
    }
    return {};
}

tuf::KeyMap RootCertificatePolicy::trusted_root_keys(const tuf::Root& root, tuf::Expiry now, bool check_dates) const {
    tuf::KeyMap listed = root.role_key_map(tuf::kRootRole);
    tuf::KeyMap out;
    std::string reasons;
    for (const auto& [id, key] : listed) {
        std::string why = problem(key, now, check_dates);
        if (why.empty()) out.emplace(id, key);
        else reasons += (reasons.empty() ? "" : "; ") + ("key " + id.substr(0, 12) + " " + why);
    }
    if (out.empty())
        throw update_error(UpdateFailure::certificate, tuf::kRootRole,
                           "no usable root certificate for \"" + m_gun + "\"" +
                               (reasons.empty() ? std::string(": root lists no key") : ": " + reasons));
    return out;
}

} // namespace trustkey::trust
