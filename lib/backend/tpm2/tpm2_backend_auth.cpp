// Tpm2Backend's authorization values: the backend-wide one from its configuration, a key's
// own one given at creation or by login, and the salted HMAC session they travel in.
#include "lib/backend/tpm2/tpm2_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>

#include <openssl/crypto.h>

#include <tss2/tss2_esys.h>

#include "lib/backend/tpm2/tss_error.h"

namespace trustkey::backend::tpm2 {

std::optional<TPM2B_AUTH> Tpm2Backend::key_auth(const std::string& subject) {
    const AuthSource& src = m_config.key_auth;
    if (src.kind == AuthSource::Kind::none) return std::nullopt;
    SecureBytes value;
    if (src.kind == AuthSource::Kind::env) {
        const char* v = std::getenv(src.ref.c_str());
        if (v == nullptr)
            throw Error(Errc::pin_required,
                        "backend '" + m_config.name + "': the key authorization variable " + src.ref + " is not set",
                        0, {}, subject);
        value.assign(v, v + std::strlen(v));
    } else {
        std::ifstream in(src.ref, std::ios::binary);
        std::string line;
        if (!in || !std::getline(in, line)) {
            OPENSSL_cleanse(line.data(), line.size());
            throw Error(Errc::pin_required,
                        "backend '" + m_config.name + "': cannot read the key authorization file " + src.ref, 0, {},
                        subject);
        }
        value.assign(line.begin(), line.end());
        OPENSSL_cleanse(line.data(), line.size());
    }
    TPM2B_AUTH auth{};
    if (value.size() > sizeof auth.buffer)
        throw Error(Errc::config, "backend '" + m_config.name + "': the key authorization value is longer than " +
                                      std::to_string(sizeof auth.buffer) + " bytes", 0, {}, subject);
    auth.size = static_cast<UINT16>(value.size());
    std::copy(value.begin(), value.end(), auth.buffer);
    if (m_refused_auth && m_refused_auth->size == auth.size &&
        CRYPTO_memcmp(m_refused_auth->buffer, auth.buffer, auth.size) == 0) {
        OPENSSL_cleanse(&auth, sizeof auth);
        throw Error(Errc::pin_incorrect,
                    "backend '" + m_config.name + "': the TPM refused this key authorization value before; it is "
                    "not sent again (dictionary-attack protection) until it changes",
                    0, {}, subject);
    }
    return auth;
}

void Tpm2Backend::note_refused(const TPM2B_AUTH& auth) noexcept { m_refused_auth = auth; }

namespace {

TPM2B_AUTH auth_from(const SecureBytes& value, const std::string& backend, const std::string& subject) {
    TPM2B_AUTH auth{};
    if (value.empty() || value.size() > sizeof auth.buffer)
        throw Error(Errc::invalid_argument, "backend '" + backend + "': a key authorization value is 1 to " +
                                                std::to_string(sizeof auth.buffer) + " bytes", 0, {}, subject);
    auth.size = static_cast<UINT16>(value.size());
    std::copy(value.begin(), value.end(), auth.buffer);
    return auth;
}

} // namespace

std::optional<TPM2B_AUTH> Tpm2Backend::new_key_auth(const SecureBytes* own, const std::string& subject) {
    if (own) return auth_from(*own, m_config.name, subject);
    return key_auth(subject);
}

std::optional<TPM2B_AUTH> Tpm2Backend::use_auth(const KeyInfo& key, const std::string& subject) {
    bool own = false;
    {
        std::lock_guard lock(m_cache_mutex);
        own = m_own_auth_keys.contains(key.id);
    }
    if (!own) return key_auth(subject);
    const auto it = m_own_auth_values.find(key.id);
    if (it == m_own_auth_values.end())
        throw Error(Errc::pin_required,
                    "the TPM key has its own authorization value and none was given (run: trustkey login --key " +
                        key.name + ")",
                    0, {}, subject);
    return auth_from(it->second, m_config.name, subject);
}

std::vector<std::string> Tpm2Backend::keys_awaiting_auth(const std::vector<KeyPtr>& keys) {
    std::set<std::string> own;
    {
        std::lock_guard lock(m_cache_mutex);
        own = m_own_auth_keys;
    }
    std::vector<std::string> out;
    std::lock_guard lock(m_tpm_mutex);
    for (const KeyPtr& k : keys)
        if (own.contains(k->id) && !m_own_auth_values.contains(k->id)) out.push_back(k->name);
    return out;
}

void Tpm2Backend::login_key(const KeyInfo& key, const SecureBytes& auth) {
    const std::string subject = subject_of(key);
    {
        std::lock_guard lock(m_cache_mutex);
        if (!m_own_auth_keys.contains(key.id))
            throw Error(Errc::invalid_argument, "the TPM key has no authorization value of its own", 0, {}, subject);
    }
    TPM2B_AUTH checked = auth_from(auth, m_config.name, subject);
    OPENSSL_cleanse(&checked, sizeof checked);
    std::lock_guard lock(m_tpm_mutex);
    m_own_auth_values.insert_or_assign(key.id, auth);
}

ESYS_TR Tpm2Backend::auth_session(Connection& c, bool encrypt_first_parameter, const std::string& subject) {
    ESYS_CONTEXT* ctx = c.ctx->get();
    if (!c.session) {
        // Salted to the storage primary: the session key never crosses the bus, and with it
        // neither the authorization value nor (when asked) the first command parameter.
        TPMT_SYM_DEF sym{};
        sym.algorithm = TPM2_ALG_AES;
        sym.keyBits.aes = 128;
        sym.mode.aes = TPM2_ALG_CFB;
        ESYS_TR session = ESYS_TR_NONE;
        check_rc("Esys_StartAuthSession",
                 Esys_StartAuthSession(ctx, c.primary.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                       nullptr, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &session),
                 subject);
        c.session = TrHandle(ctx, session, TrHandle::Kind::transient);
    }
    const TPMA_SESSION attrs =
        TPMA_SESSION_CONTINUESESSION | (encrypt_first_parameter ? TPMA_SESSION_DECRYPT : TPMA_SESSION(0));
    check_rc("Esys_TRSess_SetAttributes", Esys_TRSess_SetAttributes(ctx, c.session.get(), attrs, 0xff), subject);
    return c.session.get();
}

} // namespace trustkey::backend::tpm2
