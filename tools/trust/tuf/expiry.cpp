#include "tools/trust/tuf/expiry.h"

#include <cstdio>

#include "lib/core/error.h"

namespace trustkey::tuf {

using namespace std::chrono;

std::string format_expiry(Expiry t) {
    sys_days day = floor<days>(t);
    year_month_day ymd{day};
    hh_mm_ss<nanoseconds> tod{t - day};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                  static_cast<int>(tod.seconds().count()));
    std::string out = buf;
    long long ns = tod.subseconds().count();
    if (ns != 0) {
        std::snprintf(buf, sizeof buf, ".%09lld", ns);
        std::string frac = buf;
        while (frac.back() == '0') frac.pop_back();
        out += frac;
    }
    return out + "Z";
}

namespace {

[[noreturn]] void bad_time(std::string_view text, std::string_view what, std::string_view why) {
    throw Error(Errc::malformed, std::string(what) + ": \"" + std::string(text) + "\" is not an RFC 3339 time (" +
                                     std::string(why) + ")");
}

// Reads `n` decimal digits at `pos`.
int digits(std::string_view s, std::size_t& pos, std::size_t n, std::string_view what) {
    if (pos + n > s.size()) bad_time(s, what, "too short");
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9') bad_time(s, what, "a digit is expected");
        v = v * 10 + (c - '0');
    }
    pos += n;
    return v;
}

void expect(std::string_view s, std::size_t& pos, char c, std::string_view what) {
    if (pos >= s.size() || s[pos] != c) bad_time(s, what, std::string("'") + c + "' is expected");
    ++pos;
}

} // namespace

Expiry parse_expiry(std::string_view s, std::string_view what) {
    std::size_t pos = 0;
    int y = digits(s, pos, 4, what);
    expect(s, pos, '-', what);
    unsigned mo = static_cast<unsigned>(digits(s, pos, 2, what));
    expect(s, pos, '-', what);
    unsigned d = static_cast<unsigned>(digits(s, pos, 2, what));
    expect(s, pos, 'T', what);
    int h = digits(s, pos, 2, what);
    expect(s, pos, ':', what);
    int mi = digits(s, pos, 2, what);
    expect(s, pos, ':', what);
    int se = digits(s, pos, 2, what);
    year_month_day ymd{year{y}, month{mo}, day{d}};
    if (!ymd.ok()) bad_time(s, what, "no such date");
    if (h > 23 || mi > 59 || se > 59) bad_time(s, what, "no such time of day");
    long long ns = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::size_t n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (++n > 9) bad_time(s, what, "more than 9 fraction digits");
            ns = ns * 10 + (s[pos++] - '0');
        }
        if (n == 0) bad_time(s, what, "empty fraction");
        for (; n < 9; ++n) ns *= 10;
    }
    seconds offset{0};
    if (pos < s.size() && s[pos] == 'Z') {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int sign = s[pos++] == '-' ? -1 : 1;
        int oh = digits(s, pos, 2, what);
        expect(s, pos, ':', what);
        int om = digits(s, pos, 2, what);
        if (oh > 23 || om > 59) bad_time(s, what, "bad offset");
        offset = seconds{sign * (oh * 3600 + om * 60)};
    } else {
        bad_time(s, what, "a zone (Z or an offset) is expected");
    }
    if (pos != s.size()) bad_time(s, what, "trailing characters");
    // sys_time<nanoseconds> holds years 1678..2261; refuse what it cannot hold.
    if (y < 1678 || y > 2261) bad_time(s, what, "year out of range");
    return Expiry{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{se} + nanoseconds{ns} - offset;
}

Expiry expiry_after(std::chrono::seconds d, system_clock::time_point now) {
    return time_point_cast<nanoseconds>(floor<seconds>(now) + d);
}

} // namespace trustkey::tuf
