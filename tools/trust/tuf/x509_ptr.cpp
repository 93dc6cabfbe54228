#include "tools/trust/tuf/x509_ptr.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "lib/keys/evp_key.h"

namespace trustkey::tuf {

std::vector<X509Ptr> parse_certificates_pem(std::string_view pem) {
    keys::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) keys::throw_openssl(Errc::internal, "out of memory", "BIO_new_mem_buf");
    std::vector<X509Ptr> certs;
    for (;;) {
        X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!cert) break;
        certs.push_back(std::move(cert));
    }
    unsigned long err = ERR_peek_last_error();
    // The loop ends with "no start line" once the text is used up; anything else is a bad block.
    bool clean_end = err == 0 || (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE);
    if (!clean_end) keys::throw_openssl(Errc::bad_key_format, "a certificate in the PEM cannot be parsed",
                                           "PEM_read_bio_X509");
    ERR_clear_error();
    if (certs.empty()) throw Error(Errc::bad_key_format, "the PEM holds no certificate");
    return certs;
}

std::string certificate_pem(X509* cert) {
    keys::BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
        keys::throw_openssl(Errc::internal, "cannot write the certificate PEM", "PEM_write_bio_X509");
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

Bytes certificate_spki(X509* cert) {
    EVP_PKEY* pkey = X509_get0_pubkey(cert);
    if (!pkey) keys::throw_openssl(Errc::bad_key_format, "the certificate's public key cannot be read",
                                      "X509_get0_pubkey");
    return keys::spki_of(pkey);
}

} // namespace trustkey::tuf
