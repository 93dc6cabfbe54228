// The one key-backend interface. The daemon, and tools that work without a
// daemon (the offline ceremony tool), talk to keys only through it.
// Nothing above lib/backend/ includes PKCS#11 or TSS headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/backend/key_metadata.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "lib/core/secure_bytes.h"
#include "lib/keys/key_type.h"

namespace trustkey::backend {

class PrivateKey;

// The key forms are lib/keys'; backend code and its users name them as backend:: too.
using namespace trustkey::keys;

struct KeyInfo {
    std::string id;        // TUF key id: 64 lower-case hex digits
    std::string name;      // unique per token (CKA_LABEL on PKCS#11)
    KeyType type = KeyType::ecdsa_p256;
    Bytes spki_der;        // public key, DER SubjectPublicKeyInfo
    std::string backend;   // name of the backend instance holding the key
    KeyMetadata meta;      // uses and certificates stored with the key
    std::vector<std::string> certificate_ids;  // certificate_key_id() of each certificate that has one
};

// A key as a backend keeps it: shared, never changed once handed out (a change makes a new
// one), so resolving a reference and signing pass a pointer instead of copying the key.
using KeyPtr = std::shared_ptr<const KeyInfo>;

// Which PIN a token refused: the configured source (pin_file, pin_env), one given to
// login(), or one the user typed into pinentry.
enum class PinOrigin : std::uint8_t { none, configured, login, pinentry };

struct BackendStatus {
    std::string name;          // backend instance name (config name, "trustkey" for the embedded token)
    std::string kind;          // "pkcs11", later "tpm2"
    std::string location;      // module path / TCTI
    std::string token_label;
    std::string manufacturer;
    std::string model;
    std::string serial;
    bool present = false;      // token found and usable
    bool logged_in = false;
    bool pin_count_low = false;
    bool pin_final_try = false;
    bool pin_locked = false;
    PinOrigin pin_refused = PinOrigin::none;  // not logged in because the token refused this PIN
    std::size_t key_count = 0;
    std::size_t sessions = 0;  // session pool size
    std::string error;         // why it is not usable, empty when fine
    std::vector<std::string> keys_awaiting_auth;  // names of keys with their own authorization value not given yet
};

// A token that went away or came back, as check_presence() saw it.
struct PresenceChange {
    bool present = false;
    std::string label;   // the token as last seen (empty when it never was)
    std::string serial;
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual const std::string& name() const noexcept = 0;

    // Asks the token for its keys (and refreshes any cache).
    virtual std::vector<KeyInfo> list_keys() = 0;
    // The keys as last seen, from a cache where the backend keeps one; the first call, or
    // one after the token went away, asks the token. Used to resolve references quickly;
    // a reference that matches nothing here is looked up again with list_keys().
    virtual std::vector<KeyPtr> known_keys();
    // The key with this full TUF key id among known_keys(); null when there is none.
    virtual KeyPtr find_known(std::string_view id);
    // The keys as last seen when the backend holds a complete list of them in memory, else
    // nullopt (the default). Never asks the token, so the event loop may call it.
    virtual std::optional<std::vector<KeyPtr>> cached_keys();
    // The key with this full TUF key id in that list (null when it is not there); nullopt
    // without a complete list. Never asks the token.
    virtual std::optional<KeyPtr> cached_key(std::string_view id);
    // Generates a key on the token. Throws already_exists when the name is taken.
    virtual KeyInfo generate(std::string_view name, KeyType type) = 0;
    // Generates a key that can later be copied to another token without leaving tokens in the
    // clear: sensitive, and extractable only wrapped under a key the token's security officer
    // marked trusted (PKCS#11 CKA_WRAP_WITH_TRUSTED). For root keys of the offline ceremony;
    // the daemon's keys come from generate(). Default: unsupported_algorithm.
    virtual KeyInfo generate_wrappable(std::string_view name, KeyType type);
    // Puts an existing private key on the token, where it ends sensitive and non-extractable.
    virtual KeyInfo import_key(std::string_view name, const PrivateKey& key) = 0;
    // Signs `data` (a digest of `hash`, or the message when hash is none) with the key.
    // Returns the signature in TUF byte form (ECDSA raw r||s, RSA-PSS salt 32, Ed25519 64 bytes).
    // The backend checks the input (check_sign_input), once per item, before it signs
    // anything; callers do not check again. Throws unsupported_algorithm when `hash` does not
    // fit the key type, bad_digest_length when the digest has the wrong length.
    virtual Bytes sign(const KeyInfo& key, HashAlg hash, std::span<const std::uint8_t> data) = 0;
    // Signs each item in order with one key, each item checked once as sign() does (the
    // PKCS#11 and TPM backends check all of them before the first is signed). The default
    // calls sign() for each.
    virtual std::vector<Bytes> sign_batch(const KeyInfo& key, HashAlg hash, std::span<const Bytes> items);
    // Removes the key and what is stored with it (its metadata).
    virtual void remove(const KeyInfo& key) = 0;
    // Adds `more` (uses, DER certificates already checked against the key) to what is
    // stored with the key, written whole or not at all; returns the key as now stored.
    // Default: unsupported_algorithm.
    virtual KeyInfo annotate(const KeyInfo& key, const KeyMetadata& more);
    // For a reference that matched no key: the error for a key this backend has but cannot
    // use (what it stores for it is corrupt), so the caller hears why; nullopt otherwise.
    virtual std::optional<Error> unusable_key(std::string_view ref);
    virtual BackendStatus status() = 0;
    // Hot-plug: whether the backend's token is there now. A token found again is logged in
    // again when that needs no one to be asked (a configured PIN source, a PIN still cached)
    // and its keys are read again. Returns the change since the last call, nullopt when there
    // is none; a token pulled and put back between two calls is reported gone, then back at
    // the next call. Asks the token, so never on the event loop. Default: nullopt (nothing to pull).
    virtual std::optional<PresenceChange> check_presence();
    // Logs in with a PIN given by the user (for example typed into the CLI).
    virtual void login(const SecureBytes& pin) = 0;
    // Locking (the daemon's Lock, idle lock): forgets every PIN and authorization value given to
    // the backend and logs out of its token; until unlock(), nothing logs in again. The default
    // keeps nothing to forget.
    virtual void lock();
    // Ends lock(). With a PIN (only where checks_pin()): the token checks it first, and a refused
    // PIN throws pin_incorrect with the lock kept. Without: the next use logs in with the
    // configured PIN source.
    virtual void unlock(const SecureBytes* pin);
    // When the token's login in place began (a PIN from its configured source, pinentry,
    // login() or unlock()); a lost login that a kept PIN restores counts from the first.
    // nullopt when there is none. Default: nullopt.
    virtual std::optional<std::chrono::steady_clock::time_point> login_began() const noexcept;
    // Ends the login that began at `began` (see login_began(); nothing when another began since):
    // logs out of the token and forgets the PIN kept for it, as lock() does but without locking,
    // so the next use logs in again as a first one does. Returns whether it ended one.
    // Default: false.
    virtual bool end_login(std::chrono::steady_clock::time_point began);
    // Whether unlock() can check a PIN on this backend's token.
    virtual bool checks_pin() const noexcept { return false; }
    // Whether a signature can be made now without logging in first (which may mean asking the
    // user for a PIN): what the event loop checks before it signs on its own thread.
    virtual bool ready_to_sign() const noexcept { return true; }

    // Per-key authorization values (a TPM's): a key made or loaded with its own value
    // `auth` (not empty), which is then needed to use it. Default: unsupported_algorithm.
    virtual KeyInfo generate_with_auth(std::string_view name, KeyType type, const SecureBytes& auth);
    virtual KeyInfo import_key_with_auth(std::string_view name, const PrivateKey& key, const SecureBytes& auth);
    // Supplies the authorization value of a key that has its own, kept in memory (wiped
    // when dropped) until the daemon stops, the key goes, or the TPM refuses it.
    // Default: invalid_argument.
    virtual void login_key(const KeyInfo& key, const SecureBytes& auth);
};

// Key names: 1 to 128 bytes, no control characters, no '/', and not 64 hex digits (that
// is how full key ids look). Throws invalid_argument.
void check_key_name(std::string_view name);

// Checks hash/data against the key type, throwing the errors sign() documents. Backends
// call it in sign() and sign_batch(); nothing above them needs to.
void check_sign_input(const KeyInfo& key, HashAlg hash, std::span<const std::uint8_t> data);

} // namespace trustkey::backend
