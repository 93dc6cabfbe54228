// Owners for the OpenSSL x509 objects the TUF library uses, and PEM helpers.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/keys/openssl_ptr.h"
#include "lib/core/encoding.h"

namespace trustkey::tuf {

using X509Ptr = std::unique_ptr<X509, keys::OsslDeleter<X509, X509_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, keys::OsslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, keys::OsslDeleter<ASN1_INTEGER, ASN1_INTEGER_free>>;

// Every CERTIFICATE block of a PEM text, in order. Throws bad_key_format when there is none
// or one cannot be parsed.
std::vector<X509Ptr> parse_certificates_pem(std::string_view pem);
// PEM of `cert` as Go's pem.Encode writes it: 64-character lines, LF, final newline.
std::string certificate_pem(X509* cert);
// DER SubjectPublicKeyInfo of the certificate's key (EC points uncompressed).
Bytes certificate_spki(X509* cert);

} // namespace trustkey::tuf
