#include "lib/backend/key_reference.h"

#include <algorithm>
#include <cctype>

namespace trustkey::backend {

namespace {

bool has_capitals(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

} // namespace

KeyReference::KeyReference(std::string_view ref)
    : m_ref(ref),
      m_lowered(has_capitals(ref) ? lower(ref) : std::string()),
      m_wanted(m_lowered.empty() ? ref : std::string_view(m_lowered)),
      m_hex_prefix(ref.size() >= kMinKeyIdPrefix && is_hex(ref)),
      m_full_id(ref.size() == 64 && is_hex(ref)),
      m_short_hex(!ref.empty() && ref.size() < kMinKeyIdPrefix && is_hex(ref)) {}

bool KeyReference::id_matches(std::string_view id) const {
    return id == m_wanted || (m_hex_prefix && id.size() >= m_wanted.size() && id.substr(0, m_wanted.size()) == m_wanted);
}

bool KeyReference::matches(std::string_view id, std::string_view name,
                           std::span<const std::string> certificate_ids) const {
    if ((!name.empty() && name == m_ref) || id_matches(id)) return true;
    return std::any_of(certificate_ids.begin(), certificate_ids.end(),
                       [&](const std::string& cert_id) { return id_matches(cert_id); });
}

bool KeyReference::matches(const KeyInfo& key) const { return matches(key.id, key.name, key.certificate_ids); }

} // namespace trustkey::backend
