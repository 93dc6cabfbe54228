// The Backend on a PKCS#11 token: keys are generated or imported on the token
// (sensitive, non-extractable; generate_wrappable: extractable only wrapped under a
// trusted key, see key_backup.h) and used for signing through a session pool.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include <p11-kit/pkcs11.h>

#include "lib/backend/backend.h"
#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/backend/pkcs11/session_pool.h"
#include "lib/backend/pkcs11/token_access.h"
#include "lib/backend/pkcs11/token_login.h"
#include "lib/backend/pkcs11/token_uri.h"

namespace trustkey::backend::pkcs11 {

class Pkcs11Backend final : public Backend {
public:
    // Throws config for a bad URI or a module that cannot be loaded; an absent
    // token or a refused PIN is reported later by status() and operations.
    explicit Pkcs11Backend(Pkcs11Config config);
    ~Pkcs11Backend() override;

    const std::string& name() const noexcept override { return m_config.name; }
    std::vector<KeyInfo> list_keys() override;
    std::vector<KeyPtr> known_keys() override;
    KeyPtr find_known(std::string_view id) override;
    std::optional<std::vector<KeyPtr>> cached_keys() override;
    std::optional<KeyPtr> cached_key(std::string_view id) override;
    KeyInfo generate(std::string_view name, KeyType type) override;
    KeyInfo generate_wrappable(std::string_view name, KeyType type) override;
    KeyInfo import_key(std::string_view name, const PrivateKey& key) override;
    Bytes sign(const KeyInfo& key, HashAlg hash, std::span<const std::uint8_t> data) override;
    std::vector<Bytes> sign_batch(const KeyInfo& key, HashAlg hash, std::span<const Bytes> items) override;
    void remove(const KeyInfo& key) override;
    KeyInfo annotate(const KeyInfo& key, const KeyMetadata& more) override;
    BackendStatus status() override;
    void login(const SecureBytes& pin) override;
    void lock() override;
    void unlock(const SecureBytes* pin) override;
    bool checks_pin() const noexcept override { return true; }
    bool ready_to_sign() const noexcept override;
    std::optional<std::chrono::steady_clock::time_point> login_began() const noexcept override;
    bool end_login(std::chrono::steady_clock::time_point began) override;
    std::optional<PresenceChange> check_presence() override;

private:
    struct CachedKey {
        CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
        CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
        Bytes ckaid;  // the key's CKA_ID, which ties its metadata objects to it; empty when it has none
        KeyInfo info;
    };

    // The pool on the token, opened (the token found by its URI) when there is none; throws
    // absent_error() when no token matches.
    std::shared_ptr<SessionPool> token_pool();
    // The sessions of `pool` are gone (the token was pulled, or pulled and put back): the pool
    // and the login go, and the keys' handles are read again before their next use. The key
    // list stays, so references to the keys still resolve (and hear the token is absent).
    void drop_pool(const std::shared_ptr<SessionPool>& pool) noexcept;
    // The token_absent error naming the token (backend, label, serial as last seen) and
    // saying to plug it in; `cause` gives the module's code and call.
    Error absent_error(const Error& cause) const;
    // Whether the token in the pool's slot is still the one this backend uses.
    bool still_present(const std::shared_ptr<SessionPool>& pool) noexcept;
    // A token found again: logs in when no one has to be asked and reads the keys again.
    void restore_token() noexcept;
    // `log_out(fn, session)` holding the token alone (nothing half-way through), on a pooled
    // session, or with (nullptr, CK_INVALID_HANDLE) when the token has none to give: what
    // lock() and end_login() share.
    template <typename LogOut>
    auto alone_with_a_session(LogOut&& log_out);
    // Runs `op(lease)` on a pooled session, logged in when `needs_login`, sharing
    // m_access (unless this thread holds it alone). Handles broken sessions, a removed
    // token and a lost login (one retry).
    template <typename Op>
    auto run(bool needs_login, Op&& op);

    std::vector<CachedKey> scan(SessionPool::Lease& lease);
    std::vector<KeyInfo> refresh(SessionPool::Lease& lease);
    // Lists the keys once, so the cache answers from then on.
    void ensure_scanned();
    // The cached key (shared, never changed once cached: a change caches a new one).
    std::shared_ptr<const CachedKey> cached(const KeyInfo& key);
    // Signs items already checked with check_sign_input.
    std::vector<Bytes> sign_checked(const KeyInfo& key, std::span<const std::span<const std::uint8_t>> items);
    KeyInfo generate_key(std::string_view name, KeyType type, bool wrappable);
    void check_name_free(SessionPool::Lease& lease, std::string_view name);
    KeyInfo finish_new_key(SessionPool::Lease& lease, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                           std::string_view name, bool set_id);
    Bytes sign_one(SessionPool::Lease& lease, const CachedKey& key, std::span<const std::uint8_t> data);

    Pkcs11Config m_config;
    TokenUri m_uri;
    std::shared_ptr<Module> m_module;
    TokenLogin m_login;

    mutable std::mutex m_token_mutex;  // m_pool, m_token_error, m_seen_*, m_reported_present, m_went_away
    std::shared_ptr<SessionPool> m_pool;
    std::string m_token_error;
    std::string m_seen_label, m_seen_serial;  // the token as last found
    bool m_reported_present = false;          // as check_presence() last reported it
    bool m_went_away = false;                 // the token was seen gone since check_presence() last looked
    std::atomic<std::uint64_t> m_pool_drops{0};  // pools dropped: a key's handles from before are stale

    TokenAccess m_access;  // shared by every token operation; generate / import / remove hold it alone
    std::mutex m_cache_mutex;  // m_keys
    std::map<std::string, std::shared_ptr<const CachedKey>, std::less<>> m_keys;
    bool m_keys_scanned = false;  // m_keys holds a full scan (kept current by generate/import/remove)
    bool m_handles_valid = false;  // m_keys' object handles are those of the current pool's token
};

} // namespace trustkey::backend::pkcs11
