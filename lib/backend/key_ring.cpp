#include "lib/backend/key_ring.h"

#include <algorithm>
#include <cctype>

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
        std::vector<KeyInfo> keys;
        try {
            keys = cached ? b->known_keys() : b->list_keys();
        } catch (const Error& e) {
            if (unreadable) unreadable->push_back(Unreadable{b.get(), e});
            continue; // the backend's status() says why
        }
        for (auto& k : keys) out.push_back(Entry{std::move(k), b.get()});
    }
    return out;
}

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// What a reference is matched against: the key id, certificate ids (both in full, or by a
// prefix of at least kMinKeyIdPrefix hex digits, case-insensitively) and the name (exactly).
// A reference without capitals (what tools send) is not copied: resolving runs on every sign.
class Reference {
public:
    explicit Reference(std::string_view ref)
        : m_ref(ref),
          m_lowered(std::any_of(ref.begin(), ref.end(), [](char c) { return c >= 'A' && c <= 'Z'; }) ? lower(ref)
                                                                                                      : std::string()),
          m_wanted(m_lowered.empty() ? ref : std::string_view(m_lowered)),
          m_hex_prefix(ref.size() >= kMinKeyIdPrefix && is_hex(ref)) {}
    Reference(const Reference&) = delete;
    Reference& operator=(const Reference&) = delete;

    bool matches(const KeyInfo& k) const {
        if (k.name == m_ref || id_matches(k.id)) return true;
        return std::any_of(k.certificate_ids.begin(), k.certificate_ids.end(),
                           [&](const std::string& id) { return id_matches(id); });
    }
    std::string_view wanted() const noexcept { return m_wanted; }

private:
    bool id_matches(std::string_view id) const {
        return id == m_wanted ||
               (m_hex_prefix && id.size() >= m_wanted.size() && id.substr(0, m_wanted.size()) == m_wanted);
    }
    std::string_view m_ref;
    std::string m_lowered;  // the reference in lower case, when it has capitals
    std::string_view m_wanted;
    bool m_hex_prefix;
};

std::vector<KeyRing::Entry> find(const Reference& ref, std::vector<KeyRing::Entry> entries) {
    std::vector<KeyRing::Entry> matches;
    for (auto& entry : entries) {
        if (!ref.matches(entry.info)) continue;
        const bool seen = std::any_of(matches.begin(), matches.end(),
                                      [&](const KeyRing::Entry& m) { return m.info.id == entry.info.id; });
        if (!seen) matches.push_back(std::move(entry));
    }
    return matches;
}

} // namespace

std::vector<KeyRing::Entry> KeyRing::matching(std::string_view ref) const {
    return find(Reference(ref), collect(false));
}

std::optional<KeyRing::Entry> KeyRing::resolve_cached(std::string_view ref) const noexcept {
    try {
        if (ref.empty()) return std::nullopt;
        const Reference reference(ref);
        std::vector<Entry> matches;
        if (ref.size() == 64 && is_hex(ref)) {
            for (const auto& b : m_backends)
                if (auto k = b->find_known(reference.wanted())) matches.push_back(Entry{std::move(*k), b.get()});
        }
        if (matches.empty()) matches = find(reference, collect(true));
        if (matches.size() != 1) return std::nullopt;
        return std::move(matches.front());
    } catch (...) {
        return std::nullopt;
    }
}

KeyRing::Entry KeyRing::resolve(std::string_view ref) const {
    if (ref.empty()) throw Error(Errc::invalid_argument, "empty key reference");
    const Reference reference(ref);
    // The backends' caches first (a sign must not rescan the token); a miss asks the tokens,
    // so keys added by other tools are found. A full key id is looked up without listing.
    std::vector<Entry> matches;
    if (ref.size() == 64 && is_hex(ref)) {
        for (const auto& b : m_backends) {
            try {
                if (auto k = b->find_known(reference.wanted())) matches.push_back(Entry{std::move(*k), b.get()});
            } catch (const Error&) {
                // that backend's status() says why
            }
        }
    }
    if (matches.empty()) matches = find(reference, collect(true));
    if (matches.empty()) matches = find(reference, collect(false));
    if (matches.empty() && ref.size() < kMinKeyIdPrefix && is_hex(ref))
        throw Error(Errc::invalid_argument, "key id prefix '" + std::string(ref) + "' is too short: give at least " +
                                                std::to_string(kMinKeyIdPrefix) + " hex digits, or the key's name");
    if (matches.empty()) throw Error(Errc::not_found, "no key matches '" + std::string(ref) + "'");
    if (matches.size() > 1) {
        std::string candidates;
        for (const auto& m : matches) {
            if (!candidates.empty()) candidates += ", ";
            candidates += m.info.id + " " + m.info.name;
        }
        throw Error(Errc::ambiguous, "key reference '" + std::string(ref) + "' matches several keys: " + candidates);
    }
    return std::move(matches.front());
}

} // namespace trustkey::backend
