// The Backend on a TPM 2.0: keys are created under a storage primary in the owner
// hierarchy; their public and private areas live in the state directory and are
// loaded into the TPM to sign. A small bounded set of keys stays loaded; everything
// else is flushed, so a TPM without a resource manager does not run out of slots.
#pragma once

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "lib/backend/backend.h"
#include "lib/backend/tpm2/esys_context.h"
#include "lib/backend/tpm2/key_store.h"
#include "lib/backend/tpm2/tpm2_config.h"
#include "lib/backend/tpm2/tr_handle.h"

namespace trustkey::backend::tpm2 {

class Tpm2Backend final : public Backend {
public:
    // Throws config/io when the state directory cannot be used; an unreachable TPM is
    // reported later by status() and the operations.
    explicit Tpm2Backend(Tpm2Config config);
    ~Tpm2Backend() override;

    const std::string& name() const noexcept override { return m_config.name; }
    std::vector<KeyInfo> list_keys() override;
    std::vector<KeyPtr> known_keys() override;
    KeyPtr find_known(std::string_view id) override;
    std::optional<std::vector<KeyPtr>> cached_keys() override;
    std::optional<KeyPtr> cached_key(std::string_view id) override;
    std::optional<Error> unusable_key(std::string_view ref) override;
    KeyInfo generate(std::string_view name, KeyType type) override;
    KeyInfo import_key(std::string_view name, const PrivateKey& key) override;
    Bytes sign(const KeyInfo& key, HashAlg hash, std::span<const std::uint8_t> data) override;
    std::vector<Bytes> sign_batch(const KeyInfo& key, HashAlg hash, std::span<const Bytes> items) override;
    void remove(const KeyInfo& key) override;
    KeyInfo annotate(const KeyInfo& key, const KeyMetadata& more) override;
    BackendStatus status() override;
    void login(const SecureBytes& pin) override;
    // Forgets the keys' own authorization values (given with login_key).
    void lock() override;
    KeyInfo generate_with_auth(std::string_view name, KeyType type, const SecureBytes& auth) override;
    KeyInfo import_key_with_auth(std::string_view name, const PrivateKey& key, const SecureBytes& auth) override;
    void login_key(const KeyInfo& key, const SecureBytes& auth) override;
    // See storage_primary_name() in tpm2_config.h.
    std::string storage_primary_name();

private:
    // What is valid while the TPM keeps its state: the ESYS context, the storage
    // primary and the keys loaded under it (most recently used first).
    struct Connection {
        std::unique_ptr<EsysContext> ctx;
        TrHandle primary;
        TPM2B_PUBLIC primary_public{};  // to wrap imported keys to
        TrHandle session;               // HMAC session salted to the primary, for keys with auth values
        std::list<std::pair<std::string, TrHandle>> loaded;
        ~Connection() {
            loaded.clear();
            session.reset();
            primary.reset();
        }
    };

    Connection& connection();
    void drop_connection() noexcept;
    // Runs `op(connection)` under the context lock. When the TPM was unreachable or lost
    // what was loaded (restarted), connects again and retries once. Errors name `subject`.
    template <typename Op>
    auto run(const std::string& subject, Op&& op);
    ESYS_TR loaded_key(Connection& c, const std::string& id, const std::string& subject);
    // Signs each checked digest with `key`, under one hold of the TPM.
    std::vector<Bytes> sign_digests(const KeyInfo& key, std::span<const std::span<const std::uint8_t>> items);
    Bytes sign_loaded(Connection& c, ESYS_TR key, ESYS_TR session, const KeyInfo& info,
                      std::span<const std::uint8_t> digest, const std::string& subject);
    // The keys' authorization value from its source; nullopt when none is configured.
    // Throws pin_required when the source cannot be read, and pin_incorrect for a value the
    // TPM refused before (it is not sent again, so repeated requests cannot lock the TPM out).
    std::optional<TPM2B_AUTH> key_auth(const std::string& subject);
    // The value a key is used with: its own (from login_key; pin_required without one) or
    // the backend's. Under m_tpm_mutex.
    std::optional<TPM2B_AUTH> use_auth(const KeyInfo& key, const std::string& subject);
    // Names of `keys` that have their own value which trustkeyd has not been given.
    std::vector<std::string> keys_awaiting_auth(const std::vector<KeyPtr>& keys);
    // Lists the keys once, so the cache answers from then on.
    void ensure_scanned();
    // The value a new key gets: `own` when given, else the backend's.
    std::optional<TPM2B_AUTH> new_key_auth(const SecureBytes* own, const std::string& subject);
    KeyInfo make_key(std::string_view name, KeyType type, const SecureBytes* own_auth);
    KeyInfo move_key(std::string_view name, const PrivateKey& key, const SecureBytes* own_auth);
    void note_refused(const TPM2B_AUTH& auth) noexcept;
    ESYS_TR auth_session(Connection& c, bool encrypt_first_parameter, const std::string& subject);
    KeyInfo info_of(const std::string& id, const KeyBlob& blob) const;
    std::string subject_of(const KeyInfo& key) const;
    void check_name_free(std::string_view name);
    KeyInfo store_new_key(std::string_view name, const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv,
                          bool own_auth);

    Tpm2Config m_config;
    KeyStore m_store;

    std::mutex m_tpm_mutex;  // m_conn, m_tpm_error: one thread uses the ESYS context at a time
    std::unique_ptr<Connection> m_conn;
    std::string m_tpm_error;
    std::optional<TPM2B_AUTH> m_refused_auth;  // guarded by m_tpm_mutex
    std::map<std::string, SecureBytes> m_own_auth_values;  // key id -> its own value (login_key); m_tpm_mutex

    std::mutex m_write_mutex;  // generate / import / remove, so name checks hold
    std::mutex m_cache_mutex;  // m_keys
    std::map<std::string, KeyPtr, std::less<>> m_keys;
    std::set<std::string> m_own_auth_keys;     // ids of keys with their own value (m_cache_mutex)
    std::vector<KeyStore::Damaged> m_damaged;  // key files the last scan could not read (m_cache_mutex)
    bool m_keys_scanned = false;
};

} // namespace trustkey::backend::tpm2
