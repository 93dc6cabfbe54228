#include "tools/trustkey/trust/tag_list.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "tools/trustkey/failure.h"

namespace trustkey::tools::trust {

namespace {

constexpr std::string_view kDigestPrefix = "sha256:";
constexpr std::size_t kDigestHexLength = 64;

std::vector<std::string> fields(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

std::optional<Bytes> parse_sha256(const std::string& text) {
    if (text.rfind(kDigestPrefix, 0) != 0 || text.size() != kDigestPrefix.size() + kDigestHexLength)
        return std::nullopt;
    return from_hex(text.substr(kDigestPrefix.size()));
}

std::optional<std::int64_t> parse_size(const std::string& text) {
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || value < 0 || text.empty() || text.front() == '+') return std::nullopt;
    return value;
}

TagListEntry parse_line(const std::string& line, const std::string& where) {
    const auto bad = [&](const std::string& why) { return Failure::usage(fmt::format("{}: {}", where, why)); };
    const std::vector<std::string> words = fields(line);
    if (words.size() != 1 && words.size() != 3)
        throw bad(fmt::format("expected \"REPO:TAG [sha256:HEX SIZE]\", found {} field(s)", words.size()));
    TagListEntry entry;
    entry.where = where;
    try {
        entry.target = parse_repository(words[0]);
    } catch (const Failure& f) {
        throw bad(f.what());
    }
    if (!entry.target.tag_given) throw bad(fmt::format("\"{}\" names no tag (REPO:TAG)", words[0]));
    if (words.size() == 3) {
        entry.digest = parse_sha256(words[1]);
        if (!entry.digest) throw bad(fmt::format("digest \"{}\": expected sha256:<64 hex digits>", words[1]));
        const auto size = parse_size(words[2]);
        if (!size) throw bad(fmt::format("size \"{}\": expected a number of bytes", words[2]));
        entry.size = *size;
    }
    return entry;
}

} // namespace

std::vector<TagListEntry> parse_tag_list(std::istream& in, const std::string& source) {
    std::vector<TagListEntry> entries;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        const std::string where = fmt::format("{}:{}", source, number);
        if (line.size() > kMaxTagListLine)
            throw Failure::usage(fmt::format("{}: line longer than {} bytes", where, kMaxTagListLine));
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        entries.push_back(parse_line(line, where));
    }
    if (in.bad()) throw Failure::failed(fmt::format("cannot read {}", source));
    return entries;
}

std::vector<TagListEntry> read_tag_list(const std::string& file) {
    if (file == "-") return parse_tag_list(std::cin, "<stdin>");
    std::ifstream in(file);
    if (!in) throw Failure::failed(fmt::format("cannot open {}: {}", file, std::strerror(errno)));
    return parse_tag_list(in, file);
}

} // namespace trustkey::tools::trust
