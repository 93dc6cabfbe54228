#include "lib/backend/backend.h"

#include "lib/core/error.h"

namespace trustkey::backend {

void check_key_name(std::string_view name) {
    if (name.empty() || name.size() > 128) throw Error(Errc::invalid_argument, "a key name has 1 to 128 characters");
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f || c == '/')
            throw Error(Errc::invalid_argument, "a key name has no control characters and no '/'");
    if (name.size() == 64 && is_hex(name))
        throw Error(Errc::invalid_argument, "a key name must not look like a key id (64 hex digits)");
}

void check_sign_input(const KeyInfo& key, HashAlg hash, std::span<const std::uint8_t> data) {
    if (key.type == KeyType::ed25519) {
        if (hash != HashAlg::none)
            throw Error(Errc::unsupported_algorithm,
                        "ed25519 keys sign the whole message (pure EdDSA); send it with hash \"none\"", 0, {},
                        key.id);
        return;
    }
    if (hash != HashAlg::sha256)
        throw Error(Errc::unsupported_algorithm,
                    std::string(key_type_name(key.type)) + " keys sign a SHA-256 digest; hash \"none\" is for ed25519",
                    0, {}, key.id);
    if (data.size() != digest_size(hash))
        throw Error(Errc::bad_digest_length,
                    "a SHA-256 digest is 32 bytes, got " + std::to_string(data.size()), 0, {}, key.id);
}

std::vector<KeyPtr> Backend::known_keys() {
    std::vector<KeyInfo> keys = list_keys();
    std::vector<KeyPtr> out;
    out.reserve(keys.size());
    for (auto& k : keys) out.push_back(std::make_shared<const KeyInfo>(std::move(k)));
    return out;
}

KeyPtr Backend::find_known(std::string_view id) {
    for (auto& k : known_keys())
        if (k->id == id) return std::move(k);
    return nullptr;
}

void Backend::lock() {}

std::optional<std::chrono::steady_clock::time_point> Backend::login_began() const noexcept { return std::nullopt; }

bool Backend::end_login(std::chrono::steady_clock::time_point) { return false; }

void Backend::unlock(const SecureBytes* pin) {
    if (pin != nullptr)
        throw Error(Errc::invalid_argument, "backend '" + name() + "' takes no PIN to unlock with");
}

std::optional<std::vector<KeyPtr>> Backend::cached_keys() { return std::nullopt; }

std::optional<KeyPtr> Backend::cached_key(std::string_view) { return std::nullopt; }

std::optional<Error> Backend::unusable_key(std::string_view) { return std::nullopt; }

std::optional<PresenceChange> Backend::check_presence() { return std::nullopt; }

KeyInfo Backend::generate_wrappable(std::string_view name, KeyType) {
    throw Error(Errc::unsupported_algorithm, "backend '" + this->name() + "' cannot make keys that can be copied to "
                "another token", 0, {}, "key '" + std::string(name) + "'");
}

KeyInfo Backend::generate_with_auth(std::string_view name, KeyType, const SecureBytes&) {
    throw Error(Errc::unsupported_algorithm, "backend '" + this->name() + "' has no per-key authorization values", 0,
                {}, "key '" + std::string(name) + "'");
}

KeyInfo Backend::import_key_with_auth(std::string_view name, const PrivateKey&, const SecureBytes&) {
    throw Error(Errc::unsupported_algorithm, "backend '" + this->name() + "' has no per-key authorization values", 0,
                {}, "key '" + std::string(name) + "'");
}

KeyInfo Backend::annotate(const KeyInfo& key, const KeyMetadata&) {
    throw Error(Errc::unsupported_algorithm, "backend '" + name() + "' cannot store metadata with its keys", 0, {},
                "key '" + key.name + "'");
}

void Backend::login_key(const KeyInfo& key, const SecureBytes&) {
    throw Error(Errc::invalid_argument, "backend '" + name() + "' has no per-key authorization values", 0, {},
                "key '" + key.name + "'");
}

std::vector<Bytes> Backend::sign_batch(const KeyInfo& key, HashAlg hash, std::span<const Bytes> items) {
    std::vector<Bytes> out;
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(sign(key, hash, item));
    return out;
}

} // namespace trustkey::backend
