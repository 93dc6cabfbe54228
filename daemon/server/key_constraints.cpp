#include "daemon/server/key_constraints.h"

#include <fnmatch.h>

#include <algorithm>

#include "lib/backend/key_reference.h"
#include "lib/core/log.h"

namespace trustkey::server {

KeyConstraints::KeyConstraints(std::vector<config::KeyConstraint> constraints) : m_constraints(std::move(constraints)) {
    for (const auto& c : m_constraints) {
        m_any_confirm = m_any_confirm || c.confirm;
        m_any_lifetime = m_any_lifetime || c.lifetime_seconds > 0;
        spdlog::info("event=key_constraint key={} confirm={} lifetime_seconds={}", log::quoted(c.key), c.confirm,
                     c.lifetime_seconds);
    }
}

KeyLimits KeyConstraints::limits_of(const backend::KeyInfo& key) const {
    KeyLimits out;
    for (const auto& c : m_constraints) {
        const bool named = config::is_key_glob(c.key) ? ::fnmatch(c.key.c_str(), key.name.c_str(), 0) == 0
                                                      : backend::KeyReference(c.key).matches(key);
        if (!named) continue;
        out.confirm = out.confirm || c.confirm;
        if (c.lifetime_seconds > 0) {
            const std::chrono::seconds l(c.lifetime_seconds);
            out.lifetime = out.lifetime ? std::min(*out.lifetime, l) : l;
        }
    }
    return out;
}

std::optional<std::chrono::seconds> KeyConstraints::login_lifetime(std::span<const backend::KeyPtr> keys) const {
    if (!m_any_lifetime) return std::nullopt;
    std::optional<std::chrono::seconds> out;
    for (const auto& k : keys) {
        if (!k) continue;
        if (const auto l = limits_of(*k).lifetime) out = out ? std::min(*out, *l) : *l;
    }
    return out;
}

} // namespace trustkey::server
