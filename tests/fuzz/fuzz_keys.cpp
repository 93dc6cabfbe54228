#include "tests/fuzz/fuzz_keys.h"

#include <memory>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace trustkey::fuzz {

namespace {

struct BioFree {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};

keys::EvpPkeyPtr generate(backend::KeyType type) {
    EVP_PKEY* key = nullptr;
    switch (type) {
    case backend::KeyType::ecdsa_p256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case backend::KeyType::rsa_2048: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}); break;
    case backend::KeyType::rsa_4096: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{4096}); break;
    case backend::KeyType::ed25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    }
    if (!key) throw std::runtime_error("OpenSSL key generation failed");
    return keys::EvpPkeyPtr(key);
}

} // namespace

std::string make_private_key_pem(backend::KeyType type) {
    const auto key = generate(type);
    std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        throw std::runtime_error("cannot write a PEM private key");
    char* p = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &p);
    return std::string(p, static_cast<std::size_t>(n));
}

backend::PrivateKey make_private_key(backend::KeyType type) {
    return backend::PrivateKey::from_pem(make_private_key_pem(type), nullptr);
}

} // namespace trustkey::fuzz
