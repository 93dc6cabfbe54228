#include "lib/backend/private_key.h"

#include <cstring>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "lib/keys/evp_key.h"
#include "lib/keys/openssl_ptr.h"

namespace trustkey::backend {

namespace {

struct PemBlock {
    std::string name;
    SecureBytes der;
};

// Reads the first PEM block; header lines ("role: root", "gun: …") are returned
// separately by OpenSSL and ignored here.
PemBlock read_pem_block(std::string_view pem) {
    if (pem.size() > 1024 * 1024) throw Error(Errc::bad_key_format, "PEM text is too large");
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) throw_openssl(Errc::internal, "cannot allocate a BIO", "BIO_new_mem_buf");
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    int ok = PEM_read_bio(bio.get(), &name, &header, &data, &len);
    std::unique_ptr<char, OpensslFree> name_owner(name);
    std::unique_ptr<char, OpensslFree> header_owner(header);
    std::unique_ptr<void, OpensslClearFree> data_owner(data, OpensslClearFree{static_cast<std::size_t>(len)});
    if (ok != 1) throw_openssl(Errc::bad_key_format, "no PEM block found", "PEM_read_bio");
    PemBlock block;
    block.name = name;
    block.der.assign(data, data + len);
    return block;
}

EvpPkeyPtr decode_der(const PemBlock& block, const SecureBytes* passphrase) {
    const char* structure = nullptr;
    const char* keytype = nullptr;
    bool encrypted = false;
    if (block.name == "PRIVATE KEY") {
        structure = "PrivateKeyInfo";
    } else if (block.name == "ENCRYPTED PRIVATE KEY") {
        structure = "EncryptedPrivateKeyInfo";
        encrypted = true;
    } else if (block.name == "EC PRIVATE KEY") {
        structure = "type-specific";
        keytype = "EC";
    } else if (block.name == "RSA PRIVATE KEY") {
        structure = "type-specific";
        keytype = "RSA";
    } else {
        throw Error(Errc::bad_key_format, "PEM block \"" + block.name + "\" is not a supported private key form");
    }
    if (encrypted && (passphrase == nullptr || passphrase->empty()))
        throw Error(Errc::bad_passphrase, "the private key is encrypted and no passphrase was given");

    EVP_PKEY* raw = nullptr;
    DecoderCtxPtr ctx(OSSL_DECODER_CTX_new_for_pkey(&raw, "DER", structure, keytype, EVP_PKEY_KEYPAIR, nullptr,
                                                    nullptr));
    if (!ctx) throw_openssl(Errc::internal, "cannot set up a key decoder", "OSSL_DECODER_CTX_new_for_pkey");
    if (encrypted && OSSL_DECODER_CTX_set_passphrase(ctx.get(), passphrase->data(), passphrase->size()) != 1)
        throw_openssl(Errc::internal, "cannot set the passphrase", "OSSL_DECODER_CTX_set_passphrase");
    const unsigned char* p = block.der.data();
    std::size_t left = block.der.size();
    int ok = OSSL_DECODER_from_data(ctx.get(), &p, &left);
    EvpPkeyPtr pkey(raw);
    if (ok != 1 || !pkey) {
        if (encrypted) {
            ERR_clear_error();
            throw Error(Errc::bad_passphrase, "cannot decrypt the private key: wrong passphrase or damaged key");
        }
        throw_openssl(Errc::bad_key_format, "cannot decode the " + block.name, "OSSL_DECODER_from_data");
    }
    return pkey;
}

} // namespace

PrivateKey PrivateKey::from_pem(std::string_view pem, const SecureBytes* passphrase) {
    PemBlock block = read_pem_block(pem);
    EvpPkeyPtr pkey = decode_der(block, passphrase);
    KeyType type = key_type_of(pkey.get());
    return PrivateKey(std::move(pkey), type);
}

Bytes PrivateKey::spki_der() const { return spki_of(m_pkey.get()); }

} // namespace trustkey::backend
