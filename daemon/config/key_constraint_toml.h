// Reading `[[key_constraint]]` tables (key_constraint.h) from the parsed TOML.
#pragma once

#include <filesystem>
#include <vector>

#include <toml++/toml.h>

#include "daemon/config/key_constraint.h"

namespace trustkey::config {

// The value of the top-level key "key_constraint": an array of tables. Throws Errc::config,
// naming the table's line, for anything else, an unknown key, a bad value, a table without
// "key", or one that constrains nothing.
std::vector<KeyConstraint> parse_key_constraints(const toml::node& value, const std::filesystem::path& origin);

} // namespace trustkey::config
