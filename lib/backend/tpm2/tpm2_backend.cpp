#include "lib/backend/tpm2/tpm2_backend.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <openssl/crypto.h>

#include <tss2/tss2_esys.h>

#include "lib/backend/key_reference.h"
#include "lib/keys/public_key.h"
#include "lib/backend/tpm2/esys_ptr.h"
#include "lib/backend/tpm2/key_import.h"
#include "lib/backend/tpm2/key_templates.h"
#include "lib/backend/tpm2/tpm2_backend_run.h"
#include "lib/backend/tpm2/tss_error.h"
#include "lib/core/log.h"

namespace trustkey::backend::tpm2 {

namespace {

std::string short_id(const std::string& id) { return id.substr(0, 12); }

} // namespace

Tpm2Backend::Tpm2Backend(Tpm2Config config) : m_config(std::move(config)), m_store(m_config.state_dir) {
    if (m_config.name.empty()) throw Error(Errc::config, "a TPM backend needs a name");
    if (m_config.tcti.empty()) throw Error(Errc::config, "a TPM backend needs a TCTI", 0, {}, m_config.name);
    try {
        std::lock_guard lock(m_tpm_mutex);
        connection();
    } catch (const Error& e) {
        // Unreachable now: status() and the next operations say so, and connect again.
        spdlog::debug("backend={} event=tpm_unreachable error={}", log::quoted(m_config.name), log::quoted(e.what()));
    }
}

Tpm2Backend::~Tpm2Backend() {
    std::lock_guard lock(m_tpm_mutex);
    m_conn.reset();
}

Tpm2Backend::Connection& Tpm2Backend::connection() {
    if (m_conn) return *m_conn;
    try {
        auto c = std::make_unique<Connection>();
        c->ctx = EsysContext::open(m_config.tcti);
        ESYS_CONTEXT* ctx = c->ctx->get();
        // A TPM that was just switched on needs TPM2_Startup; one already started says so, ignored.
        Esys_Startup(ctx, TPM2_SU_CLEAR);

        if (m_config.parent) {
            ESYS_TR tr = ESYS_TR_NONE;
            TSS2_RC rc = Esys_TR_FromTPMPublic(ctx, *m_config.parent, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
            if (rc == TSS2_RC_SUCCESS) {
                c->primary = TrHandle(ctx, tr, TrHandle::Kind::persistent);
                EsysPtr<TPM2B_PUBLIC> pub;
                check_rc("Esys_ReadPublic",
                         Esys_ReadPublic(ctx, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, out_ptr(pub), nullptr,
                                         nullptr),
                         "storage primary");
                c->primary_public = *pub;
                m_conn = std::move(c);
                m_tpm_error.clear();
                return *m_conn;
            }
            if (base_rc(rc) != TPM2_RC_HANDLE) throw tss_error("Esys_TR_FromTPMPublic", rc, m_config.tcti);
        }
        const TPM2B_SENSITIVE_CREATE sensitive{};
        const TPM2B_PUBLIC templ = storage_primary_template();
        const TPM2B_DATA outside{};
        const TPML_PCR_SELECTION pcrs{};
        ESYS_TR primary = ESYS_TR_NONE;
        EsysPtr<TPM2B_PUBLIC> primary_public;
        check_rc("Esys_CreatePrimary",
                 Esys_CreatePrimary(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                                    &templ, &outside, &pcrs, &primary, out_ptr(primary_public), nullptr, nullptr,
                                    nullptr),
                 "storage primary");
        TrHandle transient(ctx, primary, TrHandle::Kind::transient);
        c->primary_public = *primary_public;
        if (m_config.parent) {
            ESYS_TR persistent = ESYS_TR_NONE;
            check_rc("Esys_EvictControl",
                     Esys_EvictControl(ctx, ESYS_TR_RH_OWNER, transient.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                       ESYS_TR_NONE, *m_config.parent, &persistent),
                     "storage primary");
            c->primary = TrHandle(ctx, persistent, TrHandle::Kind::persistent);
        } else {
            c->primary = std::move(transient);
        }
        m_conn = std::move(c);
        m_tpm_error.clear();
        return *m_conn;
    } catch (const Error& e) {
        m_tpm_error = explained(e, m_config.name, m_config.tcti, {}).message();
        throw;
    }
}

void Tpm2Backend::drop_connection() noexcept { m_conn.reset(); }


std::string Tpm2Backend::subject_of(const KeyInfo& key) const {
    return "key '" + key.name + "' " + short_id(key.id) + " on backend '" + m_config.name + "'";
}

KeyInfo Tpm2Backend::info_of(const std::string& id, const KeyBlob& blob) const {
    KeyInfo k;
    k.type = key_type_of_public(blob.pub.publicArea);
    k.spki_der = spki_of_public(blob.pub.publicArea);
    k.id = tuf_key_id(k.type, k.spki_der);
    if (k.id != id)
        throw Error(Errc::bad_key_format, "the key blob holds another key than its file name says", 0, {},
                    m_store.path_of(id).string());
    k.name = blob.name;
    k.backend = m_config.name;
    try {
        attach_metadata(k, m_store.read_metadata(id, subject_of(k)));
    } catch (const Error& e) {
        // The key itself is fine and stays usable; only what was recorded about it is lost.
        spdlog::debug("backend={} event=key_metadata_unreadable key_id={} why={}, ignoring",
                      log::quoted(m_config.name), id, log::quoted(e.message()));
    }
    return k;
}

std::vector<KeyInfo> Tpm2Backend::list_keys() {
    std::vector<KeyStore::Damaged> damaged;
    std::map<std::string, KeyPtr, std::less<>> fresh;
    std::set<std::string> own_auth;
    std::vector<KeyInfo> out;
    for (const auto& entry : m_store.load_all(&damaged)) {
        try {
            KeyInfo k = info_of(entry.id, entry.blob);
            if (entry.blob.own_auth) own_auth.insert(k.id);
            fresh.emplace(k.id, std::make_shared<const KeyInfo>(k));
            out.push_back(std::move(k));
        } catch (const Error& e) {
            damaged.push_back(KeyStore::Damaged{entry.id, entry.blob.name, e.message()});
        }
    }
    for (const auto& d : damaged)
        spdlog::debug("backend={} event=key_file_unreadable key_id={} why={}, ignoring", log::quoted(m_config.name),
                      d.id, log::quoted(d.why));
    std::lock_guard lock(m_cache_mutex);
    m_keys = std::move(fresh);
    m_own_auth_keys = std::move(own_auth);
    m_damaged = std::move(damaged);
    m_keys_scanned = true;
    return out;
}

std::optional<Error> Tpm2Backend::unusable_key(std::string_view ref) {
    const KeyReference reference(ref);
    std::lock_guard lock(m_cache_mutex);
    for (const auto& d : m_damaged) {
        if (!reference.matches(d.id, d.name)) continue;
        const std::string name = d.name.empty() ? std::string("?") : d.name;
        return Error(Errc::key_damaged, d.why, 0, {},
                     "key '" + name + "' " + short_id(d.id) + " on backend '" + m_config.name + "'");
    }
    return std::nullopt;
}

void Tpm2Backend::ensure_scanned() {
    {
        std::lock_guard lock(m_cache_mutex);
        if (m_keys_scanned) return;
    }
    list_keys();  // fills the cache
}

std::vector<KeyPtr> Tpm2Backend::known_keys() {
    ensure_scanned();
    return cached_keys().value_or(std::vector<KeyPtr>{});
}

std::optional<std::vector<KeyPtr>> Tpm2Backend::cached_keys() {
    std::lock_guard lock(m_cache_mutex);
    if (!m_keys_scanned) return std::nullopt;
    std::vector<KeyPtr> out;
    out.reserve(m_keys.size());
    for (const auto& [id, k] : m_keys) out.push_back(k);
    return out;
}

KeyPtr Tpm2Backend::find_known(std::string_view id) {
    ensure_scanned();
    return cached_key(id).value_or(nullptr);
}

std::optional<KeyPtr> Tpm2Backend::cached_key(std::string_view id) {
    std::lock_guard lock(m_cache_mutex);
    if (!m_keys_scanned) return std::nullopt;
    auto it = m_keys.find(id);
    return it == m_keys.end() ? nullptr : it->second;
}

void Tpm2Backend::check_name_free(std::string_view name) {
    for (const auto& k : list_keys())
        if (k.name == name)
            throw Error(Errc::already_exists, "a key with this name is already on the TPM", 0, {},
                        "key '" + std::string(name) + "' on backend '" + m_config.name + "'");
}

KeyInfo Tpm2Backend::store_new_key(std::string_view name, const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv,
                                   bool own_auth) {
    KeyBlob blob{std::string(name), own_auth, pub, priv};
    const KeyType type = key_type_of_public(pub.publicArea);
    const std::string id = tuf_key_id(type, spki_of_public(pub.publicArea));
    m_store.write(id, blob);
    KeyInfo info = info_of(id, blob);
    std::lock_guard lock(m_cache_mutex);
    m_keys[info.id] = std::make_shared<const KeyInfo>(info);
    if (own_auth) m_own_auth_keys.insert(info.id);
    return info;
}

KeyInfo Tpm2Backend::generate(std::string_view name, KeyType type) { return make_key(name, type, nullptr); }

KeyInfo Tpm2Backend::generate_with_auth(std::string_view name, KeyType type, const SecureBytes& auth) {
    return make_key(name, type, &auth);
}

KeyInfo Tpm2Backend::import_key(std::string_view name, const PrivateKey& key) { return move_key(name, key, nullptr); }

KeyInfo Tpm2Backend::import_key_with_auth(std::string_view name, const PrivateKey& key, const SecureBytes& auth) {
    return move_key(name, key, &auth);
}

KeyInfo Tpm2Backend::make_key(std::string_view name, KeyType type, const SecureBytes* own_auth) {
    check_key_name(name);
    const std::string subject = "key '" + std::string(name) + "' on backend '" + m_config.name + "'";
    TPM2B_PUBLIC templ;
    try {
        templ = signing_key_template(type);
    } catch (const Error& e) {
        throw explained(e, m_config.name, m_config.tcti, subject);
    }
    std::lock_guard write(m_write_mutex);
    check_name_free(name);
    EsysPtr<TPM2B_PUBLIC> pub;
    EsysPtr<TPM2B_PRIVATE> priv;
    run(subject, [&](Connection& c) {
        TPM2B_SENSITIVE_CREATE sensitive{};
        std::optional<TPM2B_AUTH> auth = new_key_auth(own_auth, subject);
        if (auth) {
            sensitive.sensitive.userAuth = *auth;
            OPENSSL_cleanse(&*auth, sizeof *auth);
        }
        struct Wipe {
            TPM2B_SENSITIVE_CREATE& s;
            ~Wipe() { OPENSSL_cleanse(&s, sizeof s); }
        } wipe{sensitive};
        const TPM2B_DATA outside{};
        const TPML_PCR_SELECTION pcrs{};
        c.loaded.clear();  // TPM2_Create needs a free object slot
        // Ask first whether this TPM makes such keys at all (swtpm has no RSA-4096).
        TPMT_PUBLIC_PARMS parms{};
        parms.type = templ.publicArea.type;
        parms.parameters = templ.publicArea.parameters;
        const TSS2_RC tested = Esys_TestParms(c.ctx->get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms);
        if (tested != TSS2_RC_SUCCESS && (tested & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER &&
            !is_state_lost(tested))
            throw Error(Errc::unsupported_algorithm,
                        "this TPM does not make " + std::string(key_type_name(type)) + " keys (" +
                            rc_text(tested) + ")",
                        tested, "Esys_TestParms", subject);
        // With an auth value, the command's first parameter (which holds it) goes encrypted.
        const ESYS_TR parent_session = auth ? auth_session(c, true, subject) : ESYS_TR_PASSWORD;
        check_rc("Esys_Create",
                 Esys_Create(c.ctx->get(), c.primary.get(), parent_session, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                             &templ, &outside, &pcrs, out_ptr(priv), out_ptr(pub), nullptr, nullptr, nullptr),
                 subject);
        return 0;
    });
    return store_new_key(name, *pub, *priv, own_auth != nullptr);
}

KeyInfo Tpm2Backend::move_key(std::string_view name, const PrivateKey& key, const SecureBytes* own_auth) {
    check_key_name(name);
    const std::string subject = "key '" + std::string(name) + "' on backend '" + m_config.name + "'";
    if (key.type() != KeyType::ecdsa_p256 && key.type() != KeyType::rsa_2048)
        throw Error(Errc::unsupported_algorithm,
                    "backend '" + m_config.name + "': a " + std::string(key_type_name(key.type())) +
                        " key cannot be moved into a TPM (ECDSA P-256 and RSA-2048 can)",
                    0, {}, subject);
    const std::string id = tuf_key_id(key.type(), key.spki_der());
    std::lock_guard write(m_write_mutex);
    check_name_free(name);
    std::error_code ec;
    if (std::filesystem::exists(m_store.path_of(id), ec))
        throw Error(Errc::already_exists, "this key is already on the TPM", 0, {}, subject);
    TPM2B_PUBLIC pub{};
    EsysPtr<TPM2B_PRIVATE> priv;
    run(subject, [&](Connection& c) {
        std::optional<TPM2B_AUTH> auth = new_key_auth(own_auth, subject);
        const ImportWrap wrap = wrap_for_import(key, c.primary_public.publicArea, auth.value_or(TPM2B_AUTH{}));
        if (auth) OPENSSL_cleanse(&*auth, sizeof *auth);
        c.loaded.clear();  // TPM2_Import needs a free object slot
        pub = wrap.pub;
        const TPM2B_DATA no_inner_key{};
        TPMT_SYM_DEF_OBJECT no_inner{};
        no_inner.algorithm = TPM2_ALG_NULL;
        check_rc("Esys_Import",
                 Esys_Import(c.ctx->get(), c.primary.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &no_inner_key,
                             &wrap.pub, &wrap.duplicate, &wrap.sym_seed, &no_inner, out_ptr(priv)),
                 subject);
        return 0;
    });
    KeyInfo info = store_new_key(name, pub, *priv, own_auth != nullptr);
    if (info.id != id) throw Error(Errc::internal, "imported key reads back with another key id", 0, {}, subject);
    return info;
}

ESYS_TR Tpm2Backend::loaded_key(Connection& c, const std::string& id, const std::string& subject) {
    const auto missing = [&] {
        return Error(Errc::not_found, "the key's blob is missing from the state directory", 0, {}, subject);
    };
    // A loaded key whose file was deleted (by another trustkeyd or by hand) is gone: unload
    // it, and the file's absence below says so. Checked only when files left the directory.
    if (!c.loaded.empty() && m_store.files_may_be_gone())
        c.loaded.remove_if([&](const auto& entry) { return !m_store.exists(entry.first); });
    for (auto it = c.loaded.begin(); it != c.loaded.end(); ++it) {
        if (it->first != id) continue;
        c.loaded.splice(c.loaded.begin(), c.loaded, it);
        return c.loaded.front().second.get();
    }
    std::optional<KeyBlob> blob = m_store.read(id, subject);
    if (!blob) throw missing();
    // Room for one more: flush the least recently used beyond the cache size.
    while (!c.loaded.empty() && c.loaded.size() >= std::max<std::size_t>(m_config.loaded_keys, 1))
        c.loaded.pop_back();
    ESYS_TR tr = ESYS_TR_NONE;
    const TSS2_RC rc = Esys_Load(c.ctx->get(), c.primary.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                 &blob->priv, &blob->pub, &tr);
    if (rc != TSS2_RC_SUCCESS) {
        Error e = tss_error("Esys_Load", rc, subject);
        if (e.errc() == Errc::token_error && !is_state_lost(rc) && !is_unreachable(rc))
            throw Error(Errc::key_damaged,
                        "the TPM refused the key's blob (corrupt, or made on another TPM or under another "
                        "primary key): " + e.message(), rc, "Esys_Load", subject);
        throw e;
    }
    c.loaded.emplace_front(id, TrHandle(c.ctx->get(), tr, TrHandle::Kind::transient));
    if (m_config.loaded_keys == 0) return c.loaded.front().second.get();
    return tr;
}

Bytes Tpm2Backend::sign_loaded(Connection& c, ESYS_TR key, ESYS_TR session, const KeyInfo& info,
                               std::span<const std::uint8_t> digest, const std::string& subject) {
    TPM2B_DIGEST d{};
    d.size = static_cast<UINT16>(digest.size());
    std::copy(digest.begin(), digest.end(), d.buffer);
    const TPMT_SIG_SCHEME scheme = signature_scheme(info.type);
    // An unrestricted key signs any digest; the ticket only matters for restricted keys.
    TPMT_TK_HASHCHECK ticket{};
    ticket.tag = TPM2_ST_HASHCHECK;
    ticket.hierarchy = TPM2_RH_NULL;
    EsysPtr<TPMT_SIGNATURE> sig;
    check_rc("Esys_Sign",
             Esys_Sign(c.ctx->get(), key, session, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme, &ticket,
                       out_ptr(sig)),
             subject);
    return tuf_signature(*sig, info.type);
}

Bytes Tpm2Backend::sign(const KeyInfo& key, HashAlg hash, std::span<const std::uint8_t> data) {
    check_sign_input(key, hash, data);
    const std::span<const std::uint8_t> one[] = {data};
    return std::move(sign_digests(key, one).front());
}

std::vector<Bytes> Tpm2Backend::sign_batch(const KeyInfo& key, HashAlg hash, std::span<const Bytes> items) {
    std::vector<std::span<const std::uint8_t>> digests;
    digests.reserve(items.size());
    for (const auto& item : items) {
        check_sign_input(key, hash, item);
        digests.emplace_back(item);
    }
    return sign_digests(key, digests);
}

std::vector<Bytes> Tpm2Backend::sign_digests(const KeyInfo& key, std::span<const std::span<const std::uint8_t>> items) {
    const std::string subject = subject_of(key);
    if (key.type == KeyType::ed25519)
        throw Error(Errc::unsupported_algorithm, "Ed25519 is not a TPM 2.0 algorithm", 0, {}, subject);
    return run(subject, [&](Connection& c) {
        std::vector<Bytes> out;
        out.reserve(items.size());
        std::optional<TPM2B_AUTH> auth = use_auth(key, subject);
        struct Wipe {
            std::optional<TPM2B_AUTH>& a;
            ~Wipe() {
                if (a) OPENSSL_cleanse(&*a, sizeof *a);
            }
        } wipe{auth};
        for (const auto& item : items) {
            const ESYS_TR tr = loaded_key(c, key.id, subject);
            ESYS_TR session = ESYS_TR_PASSWORD;
            if (auth) {
                check_rc("Esys_TR_SetAuth", Esys_TR_SetAuth(c.ctx->get(), tr, &*auth), subject);
                session = auth_session(c, false, subject);
            }
            try {
                out.push_back(sign_loaded(c, tr, session, key, item, subject));
            } catch (const Error& e) {
                if (auth && e.errc() == Errc::pin_incorrect) {
                    // Not sent again: a key's own value is forgotten, the backend's remembered as refused.
                    if (auto own = m_own_auth_values.find(key.id); own != m_own_auth_values.end())
                        m_own_auth_values.erase(own);
                    else
                        note_refused(*auth);
                }
                c.session.reset();  // after a failed authorization the session is not reused
                throw;
            }
            if (m_config.loaded_keys == 0) c.loaded.clear();
        }
        return out;
    });
}

void Tpm2Backend::remove(const KeyInfo& key) {
    std::lock_guard write(m_write_mutex);
    {
        std::lock_guard lock(m_tpm_mutex);
        if (m_conn)
            m_conn->loaded.remove_if([&](const auto& entry) { return entry.first == key.id; });
        m_own_auth_values.erase(key.id);
    }
    {
        std::lock_guard lock(m_cache_mutex);
        m_keys.erase(key.id);
        m_own_auth_keys.erase(key.id);
    }
    if (!m_store.remove(key.id))
        throw Error(Errc::not_found, "the key is not on the TPM", 0, {}, subject_of(key));
}

KeyInfo Tpm2Backend::annotate(const KeyInfo& key, const KeyMetadata& more) {
    std::lock_guard write(m_write_mutex);
    const std::string subject = subject_of(key);
    if (!m_store.exists(key.id)) throw Error(Errc::not_found, "the key is not on the TPM", 0, {}, subject);
    KeyMetadata meta;
    try {
        meta = m_store.read_metadata(key.id, subject);
    } catch (const Error&) {
        // Unreadable: what it held cannot be kept; the new metadata replaces it.
    }
    KeyInfo info = key;
    if (merge_metadata(meta, more)) m_store.write_metadata(key.id, meta);
    attach_metadata(info, std::move(meta));
    std::lock_guard lock(m_cache_mutex);
    m_keys[info.id] = std::make_shared<const KeyInfo>(info);
    return info;
}

void Tpm2Backend::lock() {
    std::lock_guard lock(m_tpm_mutex);
    m_own_auth_values.clear();  // SecureBytes: wiped as they go
}

void Tpm2Backend::login(const SecureBytes&) {
    throw Error(Errc::invalid_argument, "backend '" + m_config.name + "' is a TPM and takes no PIN");
}

std::unique_ptr<Backend> make_tpm2_backend(const Tpm2Config& config) { return std::make_unique<Tpm2Backend>(config); }

std::filesystem::path default_tpm2_state_dir(const std::string& name) {
    std::filesystem::path base;
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) {
        base = x;
    } else if (const char* home = std::getenv("HOME"); home && *home) {
        base = std::filesystem::path(home) / ".local/share";
    } else {
        throw Error(Errc::config, "no state directory for TPM backend '" + name + "': set state_dir, or HOME");
    }
    return base / "trustkey" / "tpm2" / name;
}

} // namespace trustkey::backend::tpm2
