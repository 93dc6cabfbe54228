#include "tools/trust/registry/reference.h"

#include "lib/core/encoding.h"
#include "lib/core/error.h"

namespace trustkey::registry {

namespace {

constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;
constexpr std::size_t kSha256HexLength = 64;

[[noreturn]] void bad(std::string_view text, const std::string& why) {
    throw Error(Errc::invalid_argument, "invalid image reference \"" + std::string(text) + "\": " + why, 0,
                "parse reference", std::string(text));
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_word(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_'; }

// One path component: lower-case alphanumerics separated by ".", "_", "__" or runs of "-".
bool valid_component(std::string_view c) {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
    for (std::size_t i = 0; i < c.size();) {
        if (is_lower_alnum(c[i])) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < c.size() && !is_lower_alnum(c[j])) ++j;
        const std::string_view sep = c.substr(i, j - i);
        const bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
        if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
        i = j;
    }
    return true;
}

// A host name or IPv4 address with an optional port ("[v6]:port" also accepted).
bool valid_host(std::string_view h) {
    if (h.empty()) return false;
    std::string_view name = h;
    const auto colon = h.rfind(':');
    if (h.front() == '[') {
        const auto close = h.find(']');
        if (close == std::string_view::npos) return false;
        name = h.substr(0, close + 1);
        const std::string_view rest = h.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':' || rest.size() == 1) return false;
            for (char c : rest.substr(1))
                if (c < '0' || c > '9') return false;
        }
        return name.size() > 2;
    }
    if (colon != std::string_view::npos) {
        const std::string_view port = h.substr(colon + 1);
        if (port.empty() || port.size() > 5) return false;
        for (char c : port)
            if (c < '0' || c > '9') return false;
        name = h.substr(0, colon);
    }
    if (name.empty()) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '.';
        if (!ok) return false;
    }
    return name.front() != '-' && name.front() != '.' && name.back() != '-' && name.back() != '.';
}

bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > kMaxTagLength || !is_word(t.front())) return false;
    for (char c : t)
        if (!is_word(c) && c != '.' && c != '-') return false;
    return true;
}

} // namespace

Reference Reference::parse(std::string_view text) {
    if (text.empty()) bad(text, "it is empty");
    Reference ref;
    std::string_view rest = text;

    if (const auto at = rest.find('@'); at != std::string_view::npos) {
        const std::string_view digest = rest.substr(at + 1);
        rest = rest.substr(0, at);
        const auto colon = digest.find(':');
        if (colon == std::string_view::npos) bad(text, "the digest must be ALGORITHM:HEX");
        const std::string_view alg = digest.substr(0, colon);
        const std::string_view hex = digest.substr(colon + 1);
        if (alg != "sha256") bad(text, "only sha256 digests are supported");
        if (hex.size() != kSha256HexLength || !is_hex(hex) ||
            hex.find_first_of("ABCDEF") != std::string_view::npos)
            bad(text, "a sha256 digest is 64 lower-case hex digits");
        ref.digest = std::string(digest);
    }

    // The registry part: the first component when it looks like a host.
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
        const std::string_view first = rest.substr(0, slash);
        const bool looks_like_host = first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
                                     first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos ||
                                     (!first.empty() && first.front() == '[');
        if (looks_like_host) {
            if (!valid_host(first)) bad(text, "\"" + std::string(first) + "\" is not a valid registry host");
            ref.registry = std::string(first);
            rest = rest.substr(slash + 1);
        }
    }

    // The tag: after the last ':' that follows the last '/'.
    const auto last_slash = rest.rfind('/');
    const auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
        const std::string_view tag = rest.substr(colon + 1);
        if (!valid_tag(tag))
            bad(text, "tag \"" + std::string(tag) + "\" is not valid (letters, digits, '_', '.', '-'; at most 128)");
        ref.tag = std::string(tag);
        rest = rest.substr(0, colon);
    }

    if (rest.empty()) bad(text, "the repository name is empty");
    if (rest.size() > kMaxNameLength) bad(text, "the repository name is longer than 255 characters");
    for (std::size_t start = 0;;) {
        const auto end = rest.find('/', start);
        const std::string_view component = rest.substr(start, end == std::string_view::npos ? end : end - start);
        if (!valid_component(component))
            bad(text, "repository component \"" + std::string(component) +
                          "\" is not valid (lower-case letters, digits and single separators)");
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    ref.repository = std::string(rest);

    if (ref.registry.empty() || ref.registry == "index.docker.io") ref.registry = kDockerHub;
    if (ref.registry == kDockerHub && ref.repository.find('/') == std::string::npos)
        ref.repository = "library/" + ref.repository;
    if (ref.tag.empty() && ref.digest.empty()) ref.tag = kDefaultTag;
    return ref;
}

std::string Reference::api_host() const { return registry == kDockerHub ? kDockerHubApiHost : registry; }

std::string Reference::str() const {
    std::string s = registry + "/" + repository;
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

} // namespace trustkey::registry
