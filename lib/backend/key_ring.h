// The set of active backends, and resolution of a key reference (full TUF key
// id, a unique hex prefix of at least 7 digits, a name, or one of the key's
// certificate ids, full or a prefix of at least 7 digits) to one key.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/backend/backend.h"

namespace trustkey::backend {

inline constexpr std::size_t kMinKeyIdPrefix = 7;

class KeyRing {
public:
    struct Entry {
        KeyInfo info;
        Backend* backend = nullptr;
    };

    KeyRing() = default;
    void add(std::unique_ptr<Backend> backend);

    std::vector<Backend*> backends() const;
    // Backend by name; empty name picks the first. Throws not_found.
    Backend& backend(std::string_view name) const;

    // A backend whose keys could not be read, and why.
    struct Unreadable {
        Backend* backend = nullptr;
        Error error;
    };

    // All keys of all backends. A backend that fails is skipped (its status says why);
    // with `unreadable`, it is also added there.
    std::vector<Entry> list(std::vector<Unreadable>* unreadable = nullptr) const;
    // Resolves a reference. Throws not_found, invalid_argument for a hex prefix shorter
    // than kMinKeyIdPrefix that names no key, or ambiguous with the candidates
    // ("<id> <name>", separated by ", ") in the message.
    Entry resolve(std::string_view ref) const;
    // The one key the backends' caches match for `ref`, without asking any token when the
    // caches are filled; nullopt when none or several match or a cache cannot be read.
    std::optional<Entry> resolve_cached(std::string_view ref) const noexcept;
    // Every key the reference matches (a fresh listing), each once.
    std::vector<Entry> matching(std::string_view ref) const;

private:
    std::vector<Entry> collect(bool cached, std::vector<Unreadable>* unreadable = nullptr) const;
    std::vector<std::unique_ptr<Backend>> m_backends;
};

} // namespace trustkey::backend
