#include "tools/ceremony/ceremony_token.h"

#include <cstdlib>

#include "daemon/backend/pkcs11/pkcs11_config.h"
#include "daemon/core/error.h"
#include "daemon/core/secure_bytes.h"
#include "tools/trustkey/pin_prompt.h"

namespace trustkey::ceremony {

namespace {

SecureBytes pin_for(const CeremonyToken& token, std::size_t position) {
    const std::string own = std::string(kPinEnv) + "_" + std::to_string(position);
    for (const std::string& name : {own, std::string(kPinEnv)}) {
        const char* v = std::getenv(name.c_str());
        if (v != nullptr && *v != '\0') return secure_from(v);
    }
    return tools::read_secret("User PIN for " + token.description() + ": ");
}

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

std::string CeremonyToken::description() const { return "token " + m_label + " (serial " + m_serial + ")"; }

void CeremonyToken::login() {
    SecureBytes pin = pin_for(*this, m_position);
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
