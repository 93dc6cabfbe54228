// The "expires" time of TUF metadata: Go's time.Time in RFC 3339 form.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace trustkey::tuf {

using Expiry = std::chrono::sys_time<std::chrono::nanoseconds>;

// "YYYY-MM-DDTHH:MM:SS[.fraction]Z" in UTC, the fraction only when not zero and without
// trailing zeros (Go's RFC3339Nano). Times made by trustkey are whole seconds.
std::string format_expiry(Expiry t);
// Accepts what Go's time.Time JSON parser accepts: a fraction of 1-9 digits, "Z" or a
// "+HH:MM"/"-HH:MM" offset. Throws Error(malformed) naming `what`.
Expiry parse_expiry(std::string_view text, std::string_view what = "expires");
// Now plus `d`, cut to whole seconds.
Expiry expiry_after(std::chrono::seconds d, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

} // namespace trustkey::tuf
