#include "daemon/backend/key_ring.h"

#include <algorithm>
#include <cctype>

#include "daemon/core/error.h"

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
} // namespace

KeyRing::Entry KeyRing::resolve(std::string_view ref) const {
    if (ref.empty()) throw Error(Errc::invalid_argument, "empty key reference");
    const bool hex_prefix = ref.size() >= kMinKeyIdPrefix && is_hex(ref);
    const bool has_upper = std::any_of(ref.begin(), ref.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    const std::string ref_lower = has_upper ? lower(ref) : std::string();
    const std::string_view wanted = has_upper ? std::string_view(ref_lower) : ref;

    auto find = [&](std::vector<Entry> entries) {
        std::vector<Entry> matches;
        for (auto& entry : entries) {
            const KeyInfo& k = entry.info;
            bool match = k.id == wanted || k.name == ref ||
                         (hex_prefix && k.id.size() >= wanted.size() && k.id.compare(0, wanted.size(), wanted) == 0);
            if (!match) continue;
            bool seen = std::any_of(matches.begin(), matches.end(), [&](const Entry& m) { return m.info.id == k.id; });
            if (!seen) matches.push_back(std::move(entry));
        }
        return matches;
    };
    // The backends' caches first (a sign must not rescan the token); a miss asks the tokens,
    // so keys added by other tools are found. A full id is looked up without listing.
    std::vector<Entry> matches;
    if (ref.size() == 64 && is_hex(ref)) {
        for (const auto& b : m_backends) {
            try {
                if (auto k = b->find_known(wanted)) matches.push_back(Entry{std::move(*k), b.get()});
            } catch (const Error&) {
                // that backend's status() says why
            }
        }
    }
    if (matches.empty()) matches = find(collect(true));
    if (matches.empty()) matches = find(collect(false));
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
