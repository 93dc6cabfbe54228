// The [[key_constraint]] tables of the configuration, matched against keys: whether a
// key's every use is confirmed through pinentry (ssh-add -c), and how long the login of
// the token holding it may last (ssh-add -t). A key named by several tables takes the
// strictest of them: confirmed when any says so, the shortest lifetime.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <vector>

#include "daemon/config/key_constraint.h"
#include "lib/backend/backend.h"

namespace trustkey::server {

struct KeyLimits {
    bool confirm = false;
    std::optional<std::chrono::seconds> lifetime;
};

class KeyConstraints {
public:
    KeyConstraints() = default;
    explicit KeyConstraints(std::vector<config::KeyConstraint> constraints);

    bool empty() const noexcept { return m_constraints.empty(); }
    bool any_confirm() const noexcept { return m_any_confirm; }
    bool any_lifetime() const noexcept { return m_any_lifetime; }

    // What the tables say of `key`: a table names it when its reference does (id, id prefix,
    // name, certificate id: lib/backend/key_reference.h, without the uniqueness a request's
    // reference needs) or its glob matches the key's name.
    KeyLimits limits_of(const backend::KeyInfo& key) const;
    bool needs_confirmation(const backend::KeyInfo& key) const { return m_any_confirm && limits_of(key).confirm; }
    // The login lifetime of a token holding `keys`: the shortest of theirs; nullopt: none.
    std::optional<std::chrono::seconds> login_lifetime(std::span<const backend::KeyPtr> keys) const;

private:
    std::vector<config::KeyConstraint> m_constraints;
    bool m_any_confirm = false;
    bool m_any_lifetime = false;
};

} // namespace trustkey::server
