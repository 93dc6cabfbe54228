// The tag list `trustkey trust sign --from-file FILE` reads: one tag per line,
//   REPO:TAG [sha256:HEX SIZE]
// with blank lines and lines starting with '#' skipped. A line without a digest is
// resolved in the registry, as a REPO:TAG argument is.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/encoding.h"
#include "tools/trustkey/trust/trust_context.h"

namespace trustkey::tools::trust {

struct TagListEntry {
    RepositoryTarget target;
    std::optional<Bytes> digest;  // 32 raw bytes when the line gives one
    std::int64_t size = -1;       // with digest
    std::string where;            // "FILE:LINE"
};

inline constexpr std::size_t kMaxTagListLine = 4096;

// Reads FILE ("-": standard input). Throws Failure::usage "FILE:LINE: why" for the first
// malformed line, Failure::failed when the file cannot be read.
std::vector<TagListEntry> read_tag_list(const std::string& file);
// The same over an open stream; `source` names it in errors.
std::vector<TagListEntry> parse_tag_list(std::istream& in, const std::string& source);

} // namespace trustkey::tools::trust
