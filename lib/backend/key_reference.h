// The one rule for what a key reference names, used both to resolve a reference and to
// list the candidates of an ambiguous one: the key's full TUF id, a prefix of it of at
// least kMinKeyIdPrefix hex digits, its name (exactly), or one of its certificate ids (in
// full or by such a prefix). Ids are compared without regard to case.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "lib/backend/backend.h"

namespace trustkey::backend {

inline constexpr std::size_t kMinKeyIdPrefix = 7;

class KeyReference {
public:
    // `ref` must outlive the KeyReference. A reference without capitals (what tools send)
    // is not copied: resolving runs on every sign.
    explicit KeyReference(std::string_view ref);
    KeyReference(const KeyReference&) = delete;
    KeyReference& operator=(const KeyReference&) = delete;

    bool matches(const KeyInfo& key) const;
    // For keys known only by id and name (a key file that cannot be read).
    bool matches(std::string_view id, std::string_view name,
                 std::span<const std::string> certificate_ids = {}) const;
    // The reference as ids are compared (lower case).
    std::string_view wanted() const noexcept { return m_wanted; }
    // 64 hex digits: the form of a full key id.
    bool is_full_id() const noexcept { return m_full_id; }
    // Hex digits too few to be a prefix (it can still be a name).
    bool is_short_hex() const noexcept { return m_short_hex; }

private:
    bool id_matches(std::string_view id) const;

    std::string_view m_ref;
    std::string m_lowered;  // the reference in lower case, when it has capitals
    std::string_view m_wanted;
    bool m_hex_prefix;
    bool m_full_id;
    bool m_short_hex;
};

} // namespace trustkey::backend
