#include "lib/backend/pkcs11/pkcs11_backend.h"

#include <algorithm>


#include "lib/keys/public_key.h"
#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/key_metadata_objects.h"
#include "lib/backend/pkcs11/key_templates.h"
#include "lib/backend/pkcs11/object_attributes.h"
#include "lib/backend/pkcs11/object_search.h"

namespace trustkey::backend::pkcs11 {

namespace {

bool is_pkcs11_call(const Error& e) { return e.domain() == ErrorDomain::pkcs11; }

} // namespace

template <typename Op>
auto Pkcs11Backend::run(bool needs_login, Op&& op) {
    for (int attempt = 0;; ++attempt) {
        TokenAccess::Reader reader(m_access);
        std::shared_ptr<SessionPool> pool = token_pool();
        try {
            SessionPool::Lease lease = pool->acquire();
            try {
                if (needs_login) m_login.ensure(lease.fn(), lease.get());
                return op(lease);
            } catch (const Error& e) {
                if (is_pkcs11_call(e)) lease.note(static_cast<CK_RV>(e.code()));
                throw;
            }
        } catch (const Error& e) {
            const bool from_module = is_pkcs11_call(e);
            const auto rv = static_cast<CK_RV>(e.code());
            const bool absent = e.errc() == Errc::token_absent;
            // Sessions the module no longer knows: the token was pulled and put back (or its
            // sessions closed), so every pooled session is gone with the login.
            const bool sessions_gone = from_module && (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED);
            const bool lost_login = from_module && rv == CKR_USER_NOT_LOGGED_IN && e.call() != "C_Login";
            const bool broken_session = from_module && session_is_broken(rv) && !absent;
            if (absent || sessions_gone) drop_pool(pool);
            if (lost_login) m_login.forget();
            // One more try on a fresh session or after logging in again (never with a refused PIN).
            if (attempt == 0 && (lost_login || broken_session)) continue;
            if (absent) throw absent_error(e);
            throw;
        }
    }
}

Pkcs11Backend::Pkcs11Backend(Pkcs11Config config)
    : m_config(std::move(config)), m_uri(m_config.token_uri), m_login(m_config.pin, m_config.token_uri, m_config.ask_pin, m_config.pin_cache) {
    m_module = Module::open(m_config.module);
    // A URI that matches several tokens is a mistake in the configuration: refused now
    // rather than signing with whichever token the module lists first.
    try {
        find_token(m_module->fn(), m_uri);
    } catch (const Error& e) {
        if (e.errc() == Errc::config) throw;
    }
    try {
        if (m_config.pin.kind != PinSource::Kind::none) {
            run(true, [](SessionPool::Lease&) { return 0; });
        } else {
            token_pool();
        }
    } catch (const Error&) {
        // Absent token or refused PIN: status() and the next operations report it.
    }
    std::lock_guard lock(m_token_mutex);
    m_reported_present = m_pool != nullptr;
}

Pkcs11Backend::~Pkcs11Backend() {
    std::lock_guard lock(m_token_mutex);
    m_pool.reset();
}

std::vector<KeyInfo> Pkcs11Backend::refresh(SessionPool::Lease& lease) {
    std::vector<CachedKey> found = scan(lease);
    std::vector<KeyInfo> infos;
    std::map<std::string, std::shared_ptr<const CachedKey>, std::less<>> fresh;
    for (auto& k : found) {
        infos.push_back(k.info);
        std::string id = k.info.id;
        fresh.emplace(std::move(id), std::make_shared<const CachedKey>(std::move(k)));
    }
    std::lock_guard lock(m_cache_mutex);
    m_keys = std::move(fresh);
    m_keys_scanned = true;
    m_handles_valid = true;
    return infos;
}

std::vector<KeyInfo> Pkcs11Backend::list_keys() {
    return run(true, [&](SessionPool::Lease& lease) { return refresh(lease); });
}

namespace {

// The key inside a cached entry, sharing the entry's ownership.
template <typename Cached>
KeyPtr info_of(std::shared_ptr<const Cached> k) {
    const KeyInfo* info = &k->info;
    return KeyPtr(std::move(k), info);
}

} // namespace

void Pkcs11Backend::ensure_scanned() {
    {
        std::lock_guard lock(m_cache_mutex);
        if (m_keys_scanned) return;
    }
    list_keys();  // fills the cache
}

KeyPtr Pkcs11Backend::find_known(std::string_view id) {
    ensure_scanned();
    return cached_key(id).value_or(nullptr);
}

std::optional<KeyPtr> Pkcs11Backend::cached_key(std::string_view id) {
    std::lock_guard lock(m_cache_mutex);
    if (!m_keys_scanned) return std::nullopt;
    auto it = m_keys.find(id);
    return it == m_keys.end() ? nullptr : info_of(it->second);
}

std::vector<KeyPtr> Pkcs11Backend::known_keys() {
    ensure_scanned();
    return cached_keys().value_or(std::vector<KeyPtr>{});
}

std::optional<std::vector<KeyPtr>> Pkcs11Backend::cached_keys() {
    std::lock_guard lock(m_cache_mutex);
    if (!m_keys_scanned) return std::nullopt;
    std::vector<KeyPtr> out;
    out.reserve(m_keys.size());
    for (const auto& [id, k] : m_keys) out.push_back(info_of(k));
    return out;
}

std::shared_ptr<const Pkcs11Backend::CachedKey> Pkcs11Backend::cached(const KeyInfo& key) {
    for (int pass = 0; pass < 2; ++pass) {
        {
            std::lock_guard lock(m_cache_mutex);
            // Handles from before the token was pulled are not used: the keys are read again.
            auto it = m_handles_valid ? m_keys.find(key.id) : m_keys.end();
            if (it != m_keys.end()) return it->second;
        }
        if (pass == 0) list_keys();
    }
    throw Error(Errc::not_found, "the key is not on the token", 0, {}, key.id);
}

Bytes Pkcs11Backend::sign_one(SessionPool::Lease& lease, const CachedKey& key, std::span<const std::uint8_t> data) {
    CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
    if (key.info.type == KeyType::rsa_2048 || key.info.type == KeyType::rsa_4096)
        mech = CK_MECHANISM{CKM_RSA_PKCS_PSS, &pss, sizeof pss};
    else if (key.info.type == KeyType::ed25519)
        mech = CK_MECHANISM{CKM_EDDSA, nullptr, 0};
    CK_FUNCTION_LIST* fn = lease.fn();
    check_rv("C_SignInit", fn->C_SignInit(lease.get(), &mech, key.priv), key.info.id);
    Bytes sig(signature_size(key.info.type));
    CK_ULONG len = static_cast<CK_ULONG>(sig.size());
    check_rv("C_Sign",
             fn->C_Sign(lease.get(), const_cast<CK_BYTE*>(data.data()), static_cast<CK_ULONG>(data.size()), sig.data(),
                        &len),
             key.info.id);
    if (key.info.type == KeyType::ecdsa_p256 && len < sig.size()) {
        // Each half of r||s padded on the left to the curve size.
        if (len % 2 != 0) throw Error(Errc::token_error, "odd-length ECDSA signature", 0, "C_Sign", key.info.id);
        std::size_t half = len / 2, full = sig.size() / 2;
        Bytes padded(sig.size(), 0);
        std::copy_n(sig.begin(), half, padded.begin() + static_cast<std::ptrdiff_t>(full - half));
        std::copy_n(sig.begin() + static_cast<std::ptrdiff_t>(half), half,
                    padded.begin() + static_cast<std::ptrdiff_t>(2 * full - half));
        return padded;
    }
    if (len != sig.size())
        throw Error(Errc::token_error, "the token returned a signature of unexpected length", len, "C_Sign",
                    key.info.id);
    return sig;
}

Bytes Pkcs11Backend::sign(const KeyInfo& key, HashAlg hash, std::span<const std::uint8_t> data) {
    check_sign_input(key, hash, data);
    const std::span<const std::uint8_t> one[] = {data};
    return std::move(sign_checked(key, one).front());
}

std::vector<Bytes> Pkcs11Backend::sign_batch(const KeyInfo& key, HashAlg hash, std::span<const Bytes> items) {
    std::vector<std::span<const std::uint8_t>> checked;
    checked.reserve(items.size());
    for (const auto& item : items) {
        check_sign_input(key, hash, item);
        checked.emplace_back(item);
    }
    return sign_checked(key, checked);
}

std::vector<Bytes> Pkcs11Backend::sign_checked(const KeyInfo& key,
                                               std::span<const std::span<const std::uint8_t>> items) {
    for (int attempt = 0;; ++attempt) {
        const std::uint64_t drops = m_pool_drops.load();
        const std::shared_ptr<const CachedKey> k = cached(key);
        try {
            return run(true, [&](SessionPool::Lease& lease) {
                // The token went and came back since the handles were read: they may name another object.
                if (m_pool_drops.load() != drops)
                    throw Error(Errc::token_error, "the token was replaced while the key was looked up", 0, {}, key.id);
                std::vector<Bytes> out;
                out.reserve(items.size());
                for (const auto& item : items) out.push_back(sign_one(lease, *k, item));
                return out;
            });
        } catch (const Error& e) {
            // The object went away behind our back (removed by another tool), or the token was
            // pulled and put back meanwhile: look again once.
            bool stale = e.code() == CKR_KEY_HANDLE_INVALID || e.code() == CKR_OBJECT_HANDLE_INVALID;
            if (attempt == 0 && stale && is_pkcs11_call(e)) {
                std::lock_guard lock(m_cache_mutex);
                m_keys.erase(key.id);
                continue;
            }
            if (attempt == 0 && e.errc() != Errc::token_absent && m_pool_drops.load() != drops) continue;
            throw;
        }
    }
}

void Pkcs11Backend::remove(const KeyInfo& key) {
    std::unique_lock write(m_access);
    const std::shared_ptr<const CachedKey> k = cached(key);
    run(true, [&](SessionPool::Lease& lease) {
        check_rv("C_DestroyObject", lease.fn()->C_DestroyObject(lease.get(), k->priv), key.id);
        CK_RV rv = lease.fn()->C_DestroyObject(lease.get(), k->pub);
        if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID) throw ck_error("C_DestroyObject", rv, key.id);
        if (!k->ckaid.empty()) {
            try {
                remove_key_metadata(lease.fn(), lease.get(), k->ckaid);
            } catch (const Error& e) {
                throw Error(e.errc(), "the key is deleted, but not its certificates and uses: " + e.message(), e.code(),
                            e.call(), key.id);
            }
        }
        return 0;
    });
    std::lock_guard lock(m_cache_mutex);
    m_keys.erase(key.id);
}

KeyInfo Pkcs11Backend::annotate(const KeyInfo& key, const KeyMetadata& more) {
    std::unique_lock write(m_access);
    const std::shared_ptr<const CachedKey> old = cached(key);
    if (old->ckaid.empty())
        throw Error(Errc::invalid_argument, "the key has no CKA_ID to tie certificates and uses to", 0, {}, key.id);
    KeyMetadata merged = run(
        true, [&](SessionPool::Lease& lease) { return add_key_metadata(lease.fn(), lease.get(), old->ckaid, more); });
    auto k = std::make_shared<CachedKey>(*old);
    attach_metadata(k->info, std::move(merged));
    std::lock_guard lock(m_cache_mutex);
    m_keys[key.id] = k;
    return k->info;
}

void Pkcs11Backend::login(const SecureBytes& pin) {
    // Alone on the token: checking the PIN of a logged-in token rewrites SoftHSM2's token file.
    std::unique_lock write(m_access);
    run(false, [&](SessionPool::Lease& lease) {
        m_login.login(lease.fn(), lease.get(), pin);
        return refresh(lease);
    });
}

template <typename LogOut>
auto Pkcs11Backend::alone_with_a_session(LogOut&& log_out) {
    // Alone on the token, so no operation is half-way through when the login goes.
    std::unique_lock write(m_access);
    std::shared_ptr<SessionPool> pool;
    {
        std::lock_guard lock(m_token_mutex);
        pool = m_pool;
    }
    if (pool) {
        try {
            SessionPool::Lease lease = pool->acquire();
            return log_out(lease.fn(), lease.get());
        } catch (const Error&) {
            // No session to log out through (the token went): the login is over all the same.
        }
    }
    return log_out(nullptr, CK_INVALID_HANDLE);
}

void Pkcs11Backend::lock() {
    alone_with_a_session([this](CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session) { m_login.lock(fn, session); });
}

std::optional<std::chrono::steady_clock::time_point> Pkcs11Backend::login_began() const noexcept {
    try {
        return m_login.began();
    } catch (...) {
        return std::nullopt;
    }
}

bool Pkcs11Backend::end_login(std::chrono::steady_clock::time_point began) {
    return alone_with_a_session(
        [this, began](CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session) { return m_login.end(fn, session, began); });
}

void Pkcs11Backend::restore_token() noexcept {
    try {
        run(false, [&](SessionPool::Lease& lease) {
            if (m_login.restore(lease.fn(), lease.get())) refresh(lease);
            return 0;
        });
    } catch (const Error&) {
        // A refused PIN, or the token gone again: status() and the next request report it.
    }
}

bool Pkcs11Backend::ready_to_sign() const noexcept {
    try {
        return !m_login.locked() && m_login.state() == TokenLogin::State::logged_in;
    } catch (...) {
        return false;
    }
}

void Pkcs11Backend::unlock(const SecureBytes* pin) {
    if (pin == nullptr) {
        m_login.unlock();
        return;
    }
    std::unique_lock write(m_access);
    run(false, [&](SessionPool::Lease& lease) {
        m_login.unlock(lease.fn(), lease.get(), *pin);
        return 0;
    });
}

void Pkcs11Backend::check_name_free(SessionPool::Lease& lease, std::string_view name) {
    auto found = find_objects(lease.fn(), lease.get(), {attr(CKA_LABEL, name.data(), name.size())});
    if (!found.empty())
        throw Error(Errc::already_exists, "a key named '" + std::string(name) + "' already exists on the token", 0, {},
                    m_config.token_uri);
}

KeyInfo Pkcs11Backend::finish_new_key(SessionPool::Lease& lease, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                                      std::string_view name, bool set_id) {
    CK_FUNCTION_LIST* fn = lease.fn();
    try {
        auto key_type = read_ulong(fn, lease.get(), priv, CKA_KEY_TYPE);
        auto spki = key_type ? spki_from_token(fn, lease.get(), pub, *key_type) : std::nullopt;
        if (!spki) throw Error(Errc::token_error, "cannot read back the new public key", 0, {}, std::string(name));
        CachedKey k;
        k.priv = priv;
        k.pub = pub;
        k.info.type = key_type_of_spki(*spki);
        k.info.id = tuf_key_id(k.info.type, *spki);
        k.info.name = std::string(name);
        k.info.spki_der = std::move(*spki);
        k.info.backend = m_config.name;
        if (set_id) {
            Bytes raw_id = *from_hex(k.info.id);
            CK_ATTRIBUTE id_attr = attr(CKA_ID, raw_id.data(), raw_id.size());
            check_rv("C_SetAttributeValue", fn->C_SetAttributeValue(lease.get(), pub, &id_attr, 1), k.info.id);
            check_rv("C_SetAttributeValue", fn->C_SetAttributeValue(lease.get(), priv, &id_attr, 1), k.info.id);
        }
        if (auto ckaid = read_attribute(fn, lease.get(), priv, CKA_ID)) k.ckaid = std::move(*ckaid);
        std::lock_guard lock(m_cache_mutex);
        m_keys[k.info.id] = std::make_shared<const CachedKey>(k);
        return k.info;
    } catch (...) {
        fn->C_DestroyObject(lease.get(), priv);
        fn->C_DestroyObject(lease.get(), pub);
        throw;
    }
}

KeyInfo Pkcs11Backend::generate(std::string_view name, KeyType type) { return generate_key(name, type, false); }

KeyInfo Pkcs11Backend::generate_wrappable(std::string_view name, KeyType type) {
    return generate_key(name, type, true);
}

KeyInfo Pkcs11Backend::generate_key(std::string_view name, KeyType type, bool wrappable) {
    check_key_name(name);
    std::unique_lock write(m_access);
    return run(true, [&](SessionPool::Lease& lease) {
        check_name_free(lease, name);
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
        CK_ULONG bits = type == KeyType::rsa_4096 ? 4096 : 2048;
        const CK_BYTE exponent[] = {0x01, 0x00, 0x01};
        std::vector<CK_ATTRIBUTE> pub{attr(CKA_TOKEN, yes), attr(CKA_VERIFY, yes), attr(CKA_PRIVATE, no),
                                      attr(CKA_LABEL, name.data(), name.size())};
        std::vector<CK_ATTRIBUTE> priv{attr(CKA_TOKEN, yes),       attr(CKA_PRIVATE, yes), attr(CKA_SENSITIVE, yes),
                                       attr(CKA_EXTRACTABLE, no), attr(CKA_SIGN, yes),
                                       attr(CKA_LABEL, name.data(), name.size())};
        if (wrappable) {
            // Extractable only wrapped, and only under a key the security officer marked trusted.
            priv[3] = attr(CKA_EXTRACTABLE, yes);
            priv.push_back(attr(CKA_WRAP_WITH_TRUSTED, yes));
        }
        CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
        switch (type) {
        case KeyType::ecdsa_p256: pub.push_back(attr(CKA_EC_PARAMS, kP256Params.data(), kP256Params.size())); break;
        case KeyType::ed25519:
            mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
            pub.push_back(attr(CKA_EC_PARAMS, kEd25519Params.data(), kEd25519Params.size()));
            break;
        case KeyType::rsa_2048:
        case KeyType::rsa_4096:
            mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
            pub.push_back(attr(CKA_MODULUS_BITS, bits));
            pub.push_back(attr(CKA_PUBLIC_EXPONENT, exponent, sizeof exponent));
            break;
        }
        CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE, priv_h = CK_INVALID_HANDLE;
        check_rv("C_GenerateKeyPair",
                 lease.fn()->C_GenerateKeyPair(lease.get(), &mech, pub.data(), static_cast<CK_ULONG>(pub.size()),
                                               priv.data(), static_cast<CK_ULONG>(priv.size()), &pub_h, &priv_h),
                 std::string(name));
        return finish_new_key(lease, pub_h, priv_h, name, true);
    });
}

KeyInfo Pkcs11Backend::import_key(std::string_view name, const PrivateKey& key) {
    check_key_name(name);
    ImportValues v = import_values(key);
    Bytes spki = key.spki_der();
    std::string id = tuf_key_id(key.type(), spki);
    Bytes raw_id = *from_hex(id);
    std::unique_lock write(m_access);
    return run(true, [&](SessionPool::Lease& lease) {
        check_name_free(lease, name);
        CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY, pub_class = CKO_PUBLIC_KEY;
        if (!find_objects(lease.fn(), lease.get(), {attr(CKA_CLASS, priv_class), attr(CKA_ID, raw_id.data(), raw_id.size())})
                 .empty())
            throw Error(Errc::already_exists, "this key is already on the token", 0, {}, id);
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
        std::vector<CK_ATTRIBUTE> pub{attr(CKA_CLASS, pub_class),  attr(CKA_KEY_TYPE, v.key_type),
                                      attr(CKA_TOKEN, yes),        attr(CKA_VERIFY, yes),
                                      attr(CKA_PRIVATE, no),       attr(CKA_LABEL, name.data(), name.size()),
                                      attr(CKA_ID, raw_id.data(), raw_id.size())};
        std::vector<CK_ATTRIBUTE> priv{attr(CKA_CLASS, priv_class), attr(CKA_KEY_TYPE, v.key_type),
                                       attr(CKA_TOKEN, yes),        attr(CKA_PRIVATE, yes),
                                       attr(CKA_SENSITIVE, yes),    attr(CKA_EXTRACTABLE, no),
                                       attr(CKA_SIGN, yes),         attr(CKA_LABEL, name.data(), name.size()),
                                       attr(CKA_ID, raw_id.data(), raw_id.size())};
        auto add = [](std::vector<CK_ATTRIBUTE>& t, CK_ATTRIBUTE_TYPE type, const auto& value) {
            t.push_back(attr(type, value.data(), value.size()));
        };
        if (v.key_type == CKK_RSA) {
            add(pub, CKA_MODULUS, v.modulus);
            add(pub, CKA_PUBLIC_EXPONENT, v.public_exponent);
            add(priv, CKA_MODULUS, v.modulus);
            add(priv, CKA_PUBLIC_EXPONENT, v.public_exponent);
            add(priv, CKA_PRIVATE_EXPONENT, v.private_exponent);
            add(priv, CKA_PRIME_1, v.prime1);
            add(priv, CKA_PRIME_2, v.prime2);
            add(priv, CKA_EXPONENT_1, v.exponent1);
            add(priv, CKA_EXPONENT_2, v.exponent2);
            add(priv, CKA_COEFFICIENT, v.coefficient);
        } else {
            add(pub, CKA_EC_PARAMS, v.ec_params);
            add(pub, CKA_EC_POINT, v.ec_point);
            add(priv, CKA_EC_PARAMS, v.ec_params);
            add(priv, CKA_VALUE, v.ec_value);
        }
        CK_FUNCTION_LIST* fn = lease.fn();
        CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE, priv_h = CK_INVALID_HANDLE;
        check_rv("C_CreateObject", fn->C_CreateObject(lease.get(), pub.data(), static_cast<CK_ULONG>(pub.size()), &pub_h),
                 id);
        CK_RV rv = fn->C_CreateObject(lease.get(), priv.data(), static_cast<CK_ULONG>(priv.size()), &priv_h);
        if (rv != CKR_OK) {
            fn->C_DestroyObject(lease.get(), pub_h);
            throw ck_error("C_CreateObject", rv, id);
        }
        KeyInfo info = finish_new_key(lease, pub_h, priv_h, name, false);
        if (info.id != id) throw Error(Errc::internal, "imported key reads back with another key id", 0, {}, id);
        return info;
    });
}

std::unique_ptr<Backend> make_pkcs11_backend(const Pkcs11Config& config) {
    return std::make_unique<Pkcs11Backend>(config);
}

} // namespace trustkey::backend::pkcs11
