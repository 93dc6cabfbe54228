#include "tools/trust/tuf/canonical_json.h"

#include <algorithm>
#include <vector>

#include "lib/core/error.h"

namespace trustkey::tuf {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], 0 when it is not valid
// (overlong forms, surrogates and code points above U+10FFFF are refused).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07u; }
    else return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        unsigned char cc = byte(i + k);
        if ((cc & 0xC0u) != 0x80u) return 0;
        cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return n;
}

void write_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x20)
            throw Error(Errc::invalid_argument, "a JSON string holds the control byte " + std::to_string(c) +
                                                    ", which the file form cannot carry");
        std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) throw Error(Errc::invalid_argument, "a JSON string is not valid UTF-8");
        if (c == '"' || c == '\\') out.push_back('\\');
        out.append(s, i, n);
        i += n;
    }
    out.push_back('"');
}

bool byte_less(const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    });
}

void write_value(std::string& out, const nlohmann::json& v) {
    using T = nlohmann::json::value_t;
    switch (v.type()) {
    case T::null: out += "null"; return;
    case T::boolean: out += v.get<bool>() ? "true" : "false"; return;
    case T::number_integer: {
        std::int64_t n = v.get<std::int64_t>();
        std::uint64_t mag = n < 0 ? std::uint64_t(0) - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
        if (mag >= kMaxJsonInteger)
            throw Error(Errc::invalid_argument, "the integer " + std::to_string(n) + " is too large (limit 2^53)");
        out += std::to_string(n);
        return;
    }
    case T::number_unsigned: {
        std::uint64_t n = v.get<std::uint64_t>();
        if (n >= kMaxJsonInteger)
            throw Error(Errc::invalid_argument, "the integer " + std::to_string(n) + " is too large (limit 2^53)");
        out += std::to_string(n);
        return;
    }
    case T::number_float:
        throw Error(Errc::invalid_argument, "canonical JSON has no fractional numbers");
    case T::string: write_string(out, v.get_ref<const std::string&>()); return;
    case T::array: {
        out.push_back('[');
        bool first = true;
        for (const auto& e : v) {
            if (!first) out.push_back(',');
            first = false;
            write_value(out, e);
        }
        out.push_back(']');
        return;
    }
    case T::object: {
        std::vector<const std::string*> keys;
        keys.reserve(v.size());
        for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(&it.key());
        std::sort(keys.begin(), keys.end(), [](const std::string* a, const std::string* b) { return byte_less(*a, *b); });
        out.push_back('{');
        bool first = true;
        for (const std::string* k : keys) {
            if (!first) out.push_back(',');
            first = false;
            write_string(out, *k);
            out.push_back(':');
            write_value(out, v.at(*k));
        }
        out.push_back('}');
        return;
    }
    case T::binary:
    case T::discarded: break;
    }
    throw Error(Errc::invalid_argument, "a JSON value of this kind has no canonical form");
}

} // namespace

std::string canonical_json(const nlohmann::json& value) {
    std::string out;
    write_value(out, value);
    return out;
}

nlohmann::json parse_json(std::string_view text, std::string_view what) {
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        throw Error(Errc::malformed, std::string(what) + " is not valid JSON: " + e.what());
    }
}

std::string go_escape_html(std::string_view json_text) {
    std::string out;
    out.reserve(json_text.size());
    for (std::size_t i = 0; i < json_text.size(); ++i) {
        char c = json_text[i];
        if (c == '<') out += "\\u003c";
        else if (c == '>') out += "\\u003e";
        else if (c == '&') out += "\\u0026";
        else if (c == '\xE2' && i + 2 < json_text.size() && json_text[i + 1] == '\x80' &&
                 (json_text[i + 2] == '\xA8' || json_text[i + 2] == '\xA9')) {
            out += json_text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string file_form(std::string_view canonical_signed, std::span<const Signature> signatures) {
    std::string out = "{\"signed\":";
    out += go_escape_html(canonical_signed);
    out += ",\"signatures\":[";
    bool first = true;
    for (const Signature& s : signatures) {
        if (!first) out.push_back(',');
        first = false;
        // Same rules as the signed part: keyid and method are plain strings, sig is base64.
        out += "{\"keyid\":";
        std::string field;
        write_string(field, s.keyid);
        out += go_escape_html(field);
        field.clear();
        write_string(field, s.method);
        out += ",\"method\":" + go_escape_html(field);
        out += ",\"sig\":\"" + to_base64(s.sig) + "\"}";
    }
    out += "]}";
    return out;
}

} // namespace trustkey::tuf
