#include "tests/tools/trust/tuf/software_signer.h"

#include <stdexcept>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "lib/keys/evp_key.h"
#include "lib/keys/openssl_ptr.h"
#include "tests/lib/keys/openssl_cli.h"

namespace trustkey::test {

namespace {

keys::EvpPkeyPtr load(const std::string& kind, const std::filesystem::path& pem) {
    generate_pem(kind, pem);
    const std::string text = read_text(pem);
    keys::BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    keys::EvpPkeyPtr pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!pkey) throw std::runtime_error("cannot read the private key " + pem.string());
    return pkey;
}

Bytes der_to_raw(std::span<const std::uint8_t> der) {
    const unsigned char* p = der.data();
    keys::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) throw std::runtime_error("bad DER ECDSA signature");
    Bytes raw(64);
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32) != 32)
        throw std::runtime_error("ECDSA signature halves too long");
    return raw;
}

} // namespace

SoftwareSigner::SoftwareSigner(const std::string& kind, const std::filesystem::path& dir)
    : m_pem(dir / (kind + "-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".pem")),
      m_key(load(kind, m_pem)), m_type(keys::key_type_of(m_key.get())) {}

Bytes SoftwareSigner::spki_der() const { return keys::spki_of(m_key.get()); }

Bytes SoftwareSigner::sign(std::span<const std::uint8_t> message) const {
    keys::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    bool ed = m_type == keys::KeyType::ed25519;
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, ed ? nullptr : EVP_sha256(), nullptr, m_key.get()) != 1)
        throw std::runtime_error("EVP_DigestSignInit failed");
    bool rsa = m_type == keys::KeyType::rsa_2048 || m_type == keys::KeyType::rsa_4096;
    if (rsa && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1))
        throw std::runtime_error("PSS setup failed");
    std::size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1)
        throw std::runtime_error("EVP_DigestSign size failed");
    Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1)
        throw std::runtime_error("EVP_DigestSign failed");
    sig.resize(len);
    return m_type == keys::KeyType::ecdsa_p256 ? der_to_raw(sig) : sig;
}

Bytes SoftwareSigner::sign_digest(std::span<const std::uint8_t> digest) const {
    keys::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, m_key.get(), nullptr));
    std::size_t len = 0;
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
        EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) != 1)
        throw std::runtime_error("EVP_PKEY_sign init failed");
    Bytes der(len);
    if (EVP_PKEY_sign(ctx.get(), der.data(), &len, digest.data(), digest.size()) != 1)
        throw std::runtime_error("EVP_PKEY_sign failed");
    der.resize(len);
    return der_to_raw(der);
}

} // namespace trustkey::test
