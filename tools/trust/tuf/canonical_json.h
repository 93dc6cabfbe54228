// Canonical JSON as notary signs it, and the file form notary uploads.
//
// Canonical: object keys sorted by byte order, no whitespace, strings escape only
// '"' and '\' (everything else, including non-ASCII UTF-8, is written raw), numbers
// are integers. File form: {"signed":<canonical>,"signatures":[…]} with '<' '>' '&'
// and U+2028/U+2029 written as \u escapes, as Go's encoder does.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tools/trust/tuf/signature.h"

namespace trustkey::tuf {

// Numbers whose magnitude reaches this are refused: verifiers pass numbers through float64.
inline constexpr std::uint64_t kMaxJsonInteger = std::uint64_t{1} << 53;

// Encodes `value` canonically. Throws Error(invalid_argument) for a float, an integer
// of magnitude >= 2^53, a string holding a control byte (< 0x20) or invalid UTF-8.
std::string canonical_json(const nlohmann::json& value);

// Parses JSON text (strict: no comments, valid UTF-8). Throws Error(malformed) naming `what`.
nlohmann::json parse_json(std::string_view text, std::string_view what);

// Rewrites JSON text as Go's compact() does: '<' '>' '&' become \u003c \u003e \u0026,
// U+2028 and U+2029 become \u2028 \u2029. `json_text` must already be compact.
std::string go_escape_html(std::string_view json_text);

// The file form of a signed role: the canonical `signed` bytes and the signatures.
std::string file_form(std::string_view canonical_signed, std::span<const Signature> signatures);

} // namespace trustkey::tuf
