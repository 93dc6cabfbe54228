#include "tools/trust/registry/auth_challenge.h"

#include <cctype>

namespace trustkey::registry {

namespace {

bool is_token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) !=
                                                                    std::string_view::npos;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

class Scanner {
public:
    explicit Scanner(std::string_view s) : m_s(s) {}
    void skip_space() {
        while (m_pos < m_s.size() && (m_s[m_pos] == ' ' || m_s[m_pos] == '\t')) ++m_pos;
    }
    void skip_separators() {
        while (m_pos < m_s.size() && (m_s[m_pos] == ' ' || m_s[m_pos] == '\t' || m_s[m_pos] == ',')) ++m_pos;
    }
    bool done() const { return m_pos >= m_s.size(); }
    char peek() const { return done() ? '\0' : m_s[m_pos]; }
    std::size_t pos() const { return m_pos; }
    void seek(std::size_t p) { m_pos = p; }
    void advance() { ++m_pos; }
    std::string_view token() {
        const std::size_t start = m_pos;
        while (m_pos < m_s.size() && is_token_char(m_s[m_pos])) ++m_pos;
        return m_s.substr(start, m_pos - start);
    }
    // A quoted string at the current position ('"' already seen); nullopt if unterminated.
    std::optional<std::string> quoted() {
        std::string out;
        while (m_pos < m_s.size()) {
            const char c = m_s[m_pos++];
            if (c == '"') return out;
            if (c == '\\' && m_pos < m_s.size()) {
                out += m_s[m_pos++];
                continue;
            }
            out += c;
        }
        return std::nullopt;
    }

private:
    std::string_view m_s;
    std::size_t m_pos = 0;
};

} // namespace

std::optional<std::string> AuthChallenge::param(const std::string& lower_name) const {
    const auto it = params.find(lower_name);
    if (it == params.end()) return std::nullopt;
    return it->second;
}

std::vector<AuthChallenge> AuthChallenge::parse(std::string_view header) {
    std::vector<AuthChallenge> out;
    Scanner s(header);
    s.skip_separators();
    while (!s.done()) {
        const std::string_view scheme = s.token();
        if (scheme.empty()) break;
        AuthChallenge challenge;
        challenge.scheme = lower(scheme);
        // Parameters until a token that is not followed by '=' (the next scheme).
        for (;;) {
            s.skip_separators();
            const std::size_t mark = s.pos();
            const std::string_view name = s.token();
            if (name.empty()) break;
            s.skip_space();
            if (s.peek() != '=') {
                s.seek(mark);
                break;
            }
            s.advance();
            s.skip_space();
            std::string value;
            if (s.peek() == '"') {
                s.advance();
                const auto q = s.quoted();
                if (!q) {
                    out.push_back(std::move(challenge));
                    return out;
                }
                value = *q;
            } else {
                value = std::string(s.token());
            }
            challenge.params[lower(name)] = std::move(value);
        }
        out.push_back(std::move(challenge));
        s.skip_separators();
        if (!s.done() && !is_token_char(s.peek())) break;
    }
    return out;
}

} // namespace trustkey::registry
