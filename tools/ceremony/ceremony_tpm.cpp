// The TPM as a ceremony token: opened through the backend library's TPM backend, named by
// its storage primary, its keys' own authorization values asked like PINs.
#include <openssl/crypto.h>

#include "lib/backend/tpm2/tpm2_config.h"
#include "lib/core/error.h"
#include "tools/ceremony/ceremony_token.h"
#include "tools/trustkey/pin_prompt.h"

namespace trustkey::ceremony {

namespace fs = std::filesystem;

namespace {

// The directories opening the TPM backend makes for its state: from the first missing one
// down to `dir` (so they can be removed again when the TPM turns out to be unusable).
std::vector<fs::path> missing_directories(const fs::path& dir) {
    std::vector<fs::path> missing;
    std::error_code ec;
    for (fs::path p = dir.lexically_normal(); !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) break;
    }
    return missing;
}

void remove_empty(const std::vector<fs::path>& made) noexcept {
    for (const fs::path& p : made) {
        std::error_code ec;
        fs::remove(p, ec);  // only empty directories go
    }
}

} // namespace

CeremonyToken::CeremonyToken(const TpmLocation& tpm, std::size_t position)
    : m_uri(kTpmToken), m_position(position), m_tpm(tpm) {
    if (tpm.tcti.empty()) throw Error(Errc::invalid_argument, "the TPM's TCTI is empty (--tpm)");
    if (tpm.state_dir.empty()) throw Error(Errc::invalid_argument, "give the TPM's key directory (--tpm-state)");
    const std::vector<fs::path> made = missing_directories(tpm.state_dir);
    try {
        backend::tpm2::Tpm2Config config;
        config.name = "tpm";
        config.tcti = tpm.tcti;
        config.state_dir = tpm.state_dir;
        m_backend = backend::tpm2::make_tpm2_backend(config);
        const backend::BackendStatus st = m_backend->status();
        if (!st.present) {
            // The backend names itself and the TCTI; here the TCTI is what the user gave.
            const std::string named = "the TPM of backend '" + config.name + "' (" + tpm.tcti + ") ";
            const std::string why = st.error.rfind(named, 0) == 0 ? st.error.substr(named.size())
                                                                   : "is unusable: " + st.error;
            throw Error(Errc::token_absent, "the TPM at " + tpm.tcti + " " + why);
        }
        m_label = st.manufacturer.empty() ? std::string("TPM") : "TPM " + st.manufacturer;
        m_serial = backend::tpm2::storage_primary_name(*m_backend);
        if (st.pin_locked)
            throw Error(Errc::pin_locked, "the TPM at " + tpm.tcti + " is in dictionary-attack lockout; it refuses "
                                          "authorization values until the lockout time passes or it is reset");
    } catch (...) {
        m_backend.reset();
        remove_empty(made);
        throw;
    }
}

backend::KeyInfo CeremonyToken::generate_tpm_key(std::string_view name) {
    const std::string what = "the new root key " + std::string(name) + " on " + description();
    SecureBytes auth = secret("Authorization value for " + what + " (empty: none): ");
    if (!auth.empty() && tools::stdin_is_terminal()) {
        const SecureBytes again = tools::read_secret("Repeat it: ");
        if (again.size() != auth.size() || CRYPTO_memcmp(again.data(), auth.data(), auth.size()) != 0)
            throw Error(Errc::invalid_argument, "the two authorization values for " + what + " differ");
    }
    if (auth.empty()) return m_backend->generate(name, backend::KeyType::ecdsa_p256);
    return m_backend->generate_with_auth(name, backend::KeyType::ecdsa_p256, auth);
}

Bytes CeremonyToken::sign_tpm(const backend::KeyInfo& key, std::span<const std::uint8_t> digest) {
    const std::string what = "root key " + key.name + " " + key.id.substr(0, 12) + " on " + description();
    try {
        return m_backend->sign(key, backend::HashAlg::sha256, digest);
    } catch (const Error& e) {
        if (e.errc() != Errc::pin_required) throw;
    }
    // The key has an authorization value of its own.
    SecureBytes auth;
    try {
        auth = secret("Authorization value for " + what + ": ");
    } catch (const std::exception& e) {
        throw Error(Errc::pin_required, what + " needs its authorization value (" + e.what() + ")");
    }
    if (auth.empty()) throw Error(Errc::pin_required, what + " needs its authorization value");
    m_backend->login_key(key, auth);
    try {
        return m_backend->sign(key, backend::HashAlg::sha256, digest);
    } catch (const Error& e) {
        if (e.errc() == Errc::pin_incorrect)
            throw Error(Errc::pin_incorrect, "the TPM refused the authorization value for " + what +
                                                 " (each refusal counts toward the TPM's dictionary-attack lockout)");
        if (e.errc() == Errc::pin_locked)
            throw Error(Errc::pin_locked, "the TPM at " + m_tpm->tcti + " is in dictionary-attack lockout; it refuses "
                                          "the authorization value for " + what);
        throw;
    }
}

} // namespace trustkey::ceremony
