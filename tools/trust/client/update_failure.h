// Why a TUF update was refused. Each failure is a trustkey::Error whose message names
// the role and what failed, and whose code_name() is the failure's name below, so
// callers and tests can tell the cases apart without matching text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/core/error.h"

namespace trustkey::trust {

enum class UpdateFailure : std::uint8_t {
    threshold,          // fewer valid signatures than the role's threshold
    expired,            // the role's "expires" has passed
    rollback,           // the server offers an older version than the cache holds
    hash_mismatch,      // a file's hash differs from the one its parent lists
    length_mismatch,    // a file's length differs from the one its parent lists
    unknown_delegation, // a delegation file its parent does not delegate (or too many delegations)
    certificate,        // a root key's certificate is unusable (CN is not the GUN, dates …)
    missing,            // the server has no such file
    version,            // a file's version is not the one asked for
    wrong_type,         // a file's "_type" is not the role's
};

// "threshold", "expired", "rollback", "hash_mismatch" …
std::string_view update_failure_name(UpdateFailure f) noexcept;

// Error(Errc::denied) with message "<role>: <text>", subject `role` and code_name() set.
Error update_error(UpdateFailure f, std::string_view role, std::string_view text);

} // namespace trustkey::trust
