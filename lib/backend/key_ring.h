// The set of active backends, and resolution of a key reference to one key by the rule
// of key_reference.h (full TUF key id, a unique hex prefix of at least 7 digits, a name,
// or one of the key's certificate ids, full or a prefix of at least 7 digits).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/backend/backend.h"
#include "lib/backend/key_reference.h"

namespace trustkey::backend {

class KeyRing {
public:
    struct Entry {
        KeyPtr info;  // never null in what KeyRing returns
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
    // Every key the reference names, each key once (a key on two backends is the first
    // backend's): a full key id is looked up by id, then the backends' cached keys are
    // searched, then, when nothing matched, fresh listings. What resolve() decides on and
    // what an ambiguity reply lists. Throws invalid_argument for an empty reference.
    // The one key the backends' in-memory lists match for `ref` (the same rule), never asking a
    // token (the event loop calls it); nullopt when none or several match, or when a backend
    // holds no complete list (Backend::cached_keys).
    std::optional<Entry> resolve_cached(std::string_view ref) const noexcept;
    std::vector<Entry> matching(std::string_view ref) const;
    // The one key of `matches` (what matching(ref) returned). Throws not_found,
    // invalid_argument for a hex prefix shorter than kMinKeyIdPrefix that names no key, or
    // ambiguous with the candidates ("<id> <name>", separated by ", ") in the message.
    static Entry only(std::string_view ref, std::vector<Entry> matches);
    // only(ref, matching(ref)).
    Entry resolve(std::string_view ref) const;

private:
    std::vector<Entry> collect(bool cached, std::vector<Unreadable>* unreadable = nullptr) const;
    // What the caches match: a full key id by id, else the cached listings.
    std::vector<Entry> cached_matches(const KeyReference& reference) const;
    std::vector<std::unique_ptr<Backend>> m_backends;
};

} // namespace trustkey::backend
