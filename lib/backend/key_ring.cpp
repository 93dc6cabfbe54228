#include "lib/backend/key_ring.h"

#include <algorithm>

#include "lib/core/error.h"

namespace trustkey::backend {

void KeyRing::add(std::unique_ptr<Backend> backend) {
    if (!backend) throw Error(Errc::internal, "null backend added to the key ring");
    m_backends.push_back(std::move(backend));
}

std::vector<Backend*> KeyRing::backends() const {
    std::vector<Backend*> out;
    out.reserve(m_backends.size());
    for (const auto& b : m_backends) out.push_back(b.get());
    return out;
}

Backend& KeyRing::backend(std::string_view name) const {
    if (m_backends.empty()) throw Error(Errc::not_found, "no key backend is configured");
    if (name.empty()) return *m_backends.front();
    for (const auto& b : m_backends)
        if (b->name() == name) return *b;
    throw Error(Errc::not_found, "no backend named '" + std::string(name) + "'");
}

std::vector<KeyRing::Entry> KeyRing::list(std::vector<Unreadable>* unreadable) const {
    return collect(false, unreadable);
}

std::vector<KeyRing::Entry> KeyRing::collect(bool cached, std::vector<Unreadable>* unreadable) const {
    std::vector<Entry> out;
    for (const auto& b : m_backends) {
        try {
            if (cached) {
                for (auto& k : b->known_keys()) out.push_back(Entry{std::move(k), b.get()});
            } else {
                for (auto& k : b->list_keys())
                    out.push_back(Entry{std::make_shared<const KeyInfo>(std::move(k)), b.get()});
            }
        } catch (const Error& e) {
            if (unreadable) unreadable->push_back(Unreadable{b.get(), e});
            continue; // the backend's status() says why
        }
    }
    return out;
}

namespace {

// Adds `entry` unless a key with its id is there already.
void add_once(std::vector<KeyRing::Entry>& matches, KeyRing::Entry entry) {
    const bool seen = std::any_of(matches.begin(), matches.end(),
                                  [&](const KeyRing::Entry& m) { return m.info->id == entry.info->id; });
    if (!seen) matches.push_back(std::move(entry));
}

std::vector<KeyRing::Entry> find(const KeyReference& ref, std::vector<KeyRing::Entry> entries) {
    std::vector<KeyRing::Entry> matches;
    for (auto& entry : entries)
        if (ref.matches(*entry.info)) add_once(matches, std::move(entry));
    return matches;
}

} // namespace

std::vector<KeyRing::Entry> KeyRing::matching(std::string_view ref) const {
    if (ref.empty()) throw Error(Errc::invalid_argument, "empty key reference");
    const KeyReference reference(ref);
    // The backends' caches first (a sign must not rescan the token); a miss asks the tokens,
    // so keys added by other tools are found. A full key id is looked up without listing:
    // a name cannot look like one (check_key_name).
    std::vector<Entry> matches = cached_matches(reference);
    if (matches.empty()) matches = find(reference, collect(false));
    return matches;
}

std::vector<KeyRing::Entry> KeyRing::cached_matches(const KeyReference& reference) const {
    std::vector<Entry> matches;
    if (reference.is_full_id()) {
        for (const auto& b : m_backends) {
            try {
                if (KeyPtr k = b->find_known(reference.wanted())) add_once(matches, Entry{std::move(k), b.get()});
            } catch (const Error&) {
                // that backend's status() says why
            }
        }
    }
    if (matches.empty()) matches = find(reference, collect(true));
    return matches;
}

std::optional<KeyRing::Entry> KeyRing::resolve_cached(std::string_view ref) const noexcept {
    // The rule of matching(), asked of the backends' in-memory lists alone: a backend without
    // one leaves the answer open (nullopt) rather than have its token asked here.
    try {
        if (ref.empty()) return std::nullopt;
        const KeyReference reference(ref);
        if (reference.is_full_id()) {
            // The first backend that holds the id has the key, as in matching().
            for (const auto& b : m_backends) {
                std::optional<KeyPtr> k = b->cached_key(reference.wanted());
                if (!k) return std::nullopt;
                if (*k) return Entry{std::move(*k), b.get()};
            }
        }
        std::vector<Entry> all;
        for (const auto& b : m_backends) {
            std::optional<std::vector<KeyPtr>> keys = b->cached_keys();
            if (!keys) return std::nullopt;
            for (auto& k : *keys) all.push_back(Entry{std::move(k), b.get()});
        }
        std::vector<Entry> matches = find(reference, std::move(all));
        if (matches.size() != 1) return std::nullopt;
        return std::move(matches.front());
    } catch (...) {
        return std::nullopt;
    }
}

KeyRing::Entry KeyRing::only(std::string_view ref, std::vector<Entry> matches) {
    if (matches.empty() && KeyReference(ref).is_short_hex())
        throw Error(Errc::invalid_argument, "key id prefix '" + std::string(ref) + "' is too short: give at least " +
                                                std::to_string(kMinKeyIdPrefix) + " hex digits, or the key's name");
    if (matches.empty()) throw Error(Errc::not_found, "no key matches '" + std::string(ref) + "'");
    if (matches.size() > 1) {
        std::string candidates;
        for (const auto& m : matches) {
            if (!candidates.empty()) candidates += ", ";
            candidates += m.info->id + " " + m.info->name;
        }
        throw Error(Errc::ambiguous, "key reference '" + std::string(ref) + "' matches several keys: " + candidates);
    }
    return std::move(matches.front());
}

KeyRing::Entry KeyRing::resolve(std::string_view ref) const { return only(ref, matching(ref)); }

} // namespace trustkey::backend
