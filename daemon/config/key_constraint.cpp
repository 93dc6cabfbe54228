#include "daemon/config/key_constraint_toml.h"

#include <string>

#include "lib/core/error.h"
#include "lib/core/log.h"

namespace trustkey::config {

namespace {

constexpr std::size_t kMaxPattern = 256;

std::size_t line_of(const toml::node& node) noexcept { return static_cast<std::size_t>(node.source().begin.line); }

[[noreturn]] void fail_at(const std::filesystem::path& origin, std::size_t line, const std::string& what) {
    throw Error(Errc::config, "[[key_constraint]] at line " + std::to_string(line) + ": " + what, 0, {},
                origin.string());
}

} // namespace

bool is_key_glob(const std::string& pattern) noexcept {
    return pattern.find_first_of("*?[") != std::string::npos;
}

std::vector<KeyConstraint> parse_key_constraints(const toml::node& value, const std::filesystem::path& origin) {
    const auto* arr = value.as_array();
    if (!arr || !arr->is_array_of_tables())
        throw Error(Errc::config,
                    "key \"key_constraint\" at line " + std::to_string(line_of(value)) +
                        " must be an array of tables ([[key_constraint]])",
                    0, {}, origin.string());
    std::vector<KeyConstraint> out;
    for (const auto& element : *arr) {
        const auto& table = *element.as_table();
        KeyConstraint c;
        c.line = line_of(table);
        bool has_confirm = false;
        for (auto&& [k, v] : table) {
            const std::string key(k.str());
            const std::size_t at = line_of(v);
            if (key == "key") {
                const auto* s = v.as_string();
                if (!s || s->get().empty()) fail_at(origin, at, "\"key\" must be a key id, name or glob on names");
                c.key = s->get();
                if (c.key.size() > kMaxPattern)
                    fail_at(origin, at, "\"key\" is longer than " + std::to_string(kMaxPattern) + " bytes");
                for (unsigned char ch : c.key)
                    if (ch < 0x20 || ch == 0x7f) fail_at(origin, at, "\"key\" must not hold control characters");
            } else if (key == "confirm") {
                const auto* b = v.as_boolean();
                if (!b) fail_at(origin, at, "\"confirm\" must be true or false");
                c.confirm = b->get();
                has_confirm = true;
            } else if (key == "lifetime_seconds") {
                const auto* i = v.as_integer();
                if (!i || i->get() < 1 || i->get() > kMaxKeyLifetimeSeconds)
                    fail_at(origin, at,
                            "\"lifetime_seconds\" must be an integer between 1 and " +
                                std::to_string(kMaxKeyLifetimeSeconds));
                c.lifetime_seconds = static_cast<unsigned>(i->get());
            } else {
                fail_at(origin, at, "unknown key " + log::quoted(key) + " (known: key, confirm, lifetime_seconds)");
            }
        }
        if (c.key.empty()) fail_at(origin, c.line, "\"key\" is required");
        if (!c.confirm && c.lifetime_seconds == 0)
            fail_at(origin, c.line,
                    has_confirm ? "constrains nothing: confirm is false and no lifetime_seconds is set"
                                : "give confirm = true, lifetime_seconds, or both");
        out.push_back(std::move(c));
    }
    return out;
}

} // namespace trustkey::config
