#include "tools/ceremony/role_key_file.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/keys/evp_key.h"
#include "lib/keys/openssl_ptr.h"
#include "lib/backend/private_key.h"
#include "lib/core/atomic_file.h"
#include "lib/core/error.h"
#include "tools/trust/tuf/canonical_json.h"

namespace trustkey::ceremony {

namespace {

tuf::Key from_public_pem(const std::string& text) {
    keys::BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (!bio) throw Error(Errc::internal, "out of memory");
    keys::EvpPkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!pkey) throw Error(Errc::bad_key_format, "not a PEM public key");
    return tuf::Key::from_spki(keys::spki_of(pkey.get()));
}

} // namespace

tuf::Key load_role_key(const std::filesystem::path& path, std::string_view role) {
    const std::string text = read_file(path);
    const std::string where = std::string(role) + " key " + path.string();
    try {
        if (text.find("-----BEGIN CERTIFICATE-----") != std::string::npos) return tuf::Key::from_certificate_pem(text);
        if (text.find("-----BEGIN PUBLIC KEY-----") != std::string::npos) return from_public_pem(text);
        if (text.find_first_not_of(" \t\r\n") != std::string::npos && text[text.find_first_not_of(" \t\r\n")] == '{')
            return tuf::Key::from_json(tuf::parse_json(text, where), role);
    } catch (const Error& e) {
        throw Error(Errc::bad_key_format, where + ": " + e.message());
    }
    throw Error(Errc::bad_key_format, where + ": neither a PEM public key, a PEM certificate nor TUF key JSON");
}

} // namespace trustkey::ceremony
