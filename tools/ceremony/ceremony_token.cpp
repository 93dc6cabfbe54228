#include "tools/ceremony/ceremony_token.h"

#include <cstdlib>

#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/core/error.h"
#include "lib/core/secure_bytes.h"
#include "tools/trustkey/pin_prompt.h"

namespace trustkey::ceremony {

namespace {

std::string tries_left(const backend::BackendStatus& st) {
    if (st.pin_locked) return "the PIN is now locked";
    if (st.pin_final_try) return "one try left before the PIN locks";
    if (st.pin_count_low) return "few tries left (the token does not say how many)";
    return "the token does not report how many tries are left";
}

} // namespace

CeremonyToken::CeremonyToken(const std::filesystem::path& module, std::string uri, std::size_t position)
    : m_uri(std::move(uri)), m_position(position) {
    backend::pkcs11::Pkcs11Config config;
    config.name = "token-" + std::to_string(position);
    config.module = module;
    config.token_uri = m_uri;
    config.sessions = 1;
    m_backend = backend::pkcs11::make_pkcs11_backend(config);
    const backend::BackendStatus st = m_backend->status();
    if (!st.present)
        throw Error(Errc::token_absent, "token " + m_uri + " is not present (" + st.error + ")");
    m_serial = st.serial;
    m_label = st.token_label;
    if (st.pin_locked) throw Error(Errc::pin_locked, "the user PIN of " + description() + " is locked");
}

SecureBytes CeremonyToken::secret(const std::string& prompt) const {
    const std::string own = std::string(kPinEnv) + "_" + std::to_string(m_position);
    for (const std::string& name : {own, std::string(kPinEnv)}) {
        const char* v = std::getenv(name.c_str());
        if (v != nullptr && *v != '\0') return secure_from(v);
    }
    return tools::read_secret(prompt);
}

std::string CeremonyToken::description() const {
    if (m_tpm) return m_label + " at " + m_tpm->tcti + " (primary " + m_serial.substr(0, 16) + ")";
    return "token " + m_label + " (serial " + m_serial + ")";
}

backend::KeyInfo CeremonyToken::generate_key(std::string_view name, bool wrappable) {
    if (m_tpm) return generate_tpm_key(name);
    if (wrappable) return m_backend->generate_wrappable(name, backend::KeyType::ecdsa_p256);
    return m_backend->generate(name, backend::KeyType::ecdsa_p256);
}

Bytes CeremonyToken::sign(const backend::KeyInfo& key, std::span<const std::uint8_t> digest) {
    if (m_tpm) return sign_tpm(key, digest);
    return m_backend->sign(key, backend::HashAlg::sha256, digest);
}

void CeremonyToken::login() {
    if (m_tpm) return;
    SecureBytes pin = secret("User PIN for " + description() + ": ");
    try {
        m_backend->login(pin);
    } catch (const Error& e) {
        if (e.errc() == Errc::pin_incorrect)
            throw Error(Errc::pin_incorrect, "wrong PIN for " + description() + "; " + tries_left(m_backend->status()));
        if (e.errc() == Errc::pin_locked)
            throw Error(Errc::pin_locked, "the user PIN of " + description() + " is locked");
        throw;
    }
}

} // namespace trustkey::ceremony
