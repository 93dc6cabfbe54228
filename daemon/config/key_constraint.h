// Per-key constraints in trustkeyd's configuration, as `ssh-add -c` and `ssh-add -t` give
// them: `[[key_constraint]]` tables naming keys (a key reference by the one rule of
// lib/backend/key_reference.h, or a glob on key names) that need each use confirmed
// through pinentry, or whose token's login ends a time after it began.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace trustkey::config {

struct KeyConstraint {
    std::string key;            // a key reference, or a glob on key names (holds * ? or [)
    bool confirm = false;       // each Sign / SignBatch is confirmed through pinentry
    unsigned lifetime_seconds = 0;  // the token's login ends this long after it began; 0: no limit
    std::size_t line = 0;       // where the table is in the file, for messages
};

inline constexpr unsigned kMaxKeyLifetimeSeconds = 7 * 24 * 3600;

// Whether `pattern` is a glob (fnmatch) rather than a key reference.
bool is_key_glob(const std::string& pattern) noexcept;

} // namespace trustkey::config
