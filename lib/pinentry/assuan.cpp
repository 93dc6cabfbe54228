#include "lib/pinentry/assuan.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <openssl/crypto.h>

#include "lib/core/error.h"

namespace trustkey::pinentry {

namespace {

// Bytes the reader holds at most: one page, more than a longest line.
constexpr std::size_t kBufferSize = 4096;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace

std::string percent_escape(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto b = static_cast<unsigned char>(c);
        if (c == '%' || b < 0x20 || b == 0x7f) {
            out.push_back('%');
            out.push_back(kHex[b >> 4]);
            out.push_back(kHex[b & 0xf]);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

void percent_decode_append(std::string_view data, LockedBytes& out) {
    for (std::size_t i = 0; i < data.size(); ++i) {
        if (data[i] != '%') {
            out.push_back(static_cast<std::uint8_t>(data[i]));
            continue;
        }
        const int hi = i + 2 < data.size() ? hex_value(data[i + 1]) : -1;
        const int lo = i + 2 < data.size() ? hex_value(data[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            throw Error(Errc::malformed, "pinentry sent a data line with a broken %-escape", 0, "pinentry D")
                .with_domain(ErrorDomain::protocol);
        out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
        i += 2;
    }
}

LineReader::LineReader(int fd, std::string subject) : m_fd(fd), m_subject(std::move(subject)) {
    m_buffer.reserve(kBufferSize);
}

void LineReader::drop_consumed() noexcept {
    if (m_consumed == 0) return;
    const std::size_t old_size = m_buffer.size();
    std::move(m_buffer.begin() + static_cast<std::ptrdiff_t>(m_consumed), m_buffer.end(), m_buffer.begin());
    m_buffer.resize(old_size - m_consumed);
    // The moved-from tail still holds copies of what was there.
    OPENSSL_cleanse(m_buffer.data() + m_buffer.size(), old_size - m_buffer.size());
    m_consumed = 0;
}

std::string_view LineReader::next_line(Clock::time_point deadline, std::string_view call) {
    drop_consumed();
    for (;;) {
        const auto begin = m_buffer.begin();
        const auto lf = std::find(begin, m_buffer.end(), static_cast<std::uint8_t>('\n'));
        if (lf != m_buffer.end()) {
            const auto length = static_cast<std::size_t>(lf - begin) + 1;
            if (length > kMaxLineLength) break;
            m_consumed = length;
            std::size_t text = length - 1;
            if (text > 0 && m_buffer[text - 1] == '\r') --text;
            return {reinterpret_cast<const char*>(m_buffer.data()), text};
        }
        if (m_buffer.size() >= kMaxLineLength) break;

        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            throw Error(Errc::io, "pinentry did not answer in time", ETIMEDOUT, std::string(call), m_subject)
                .with_domain(ErrorDomain::os);
        pollfd p{m_fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count() + 1, 60'000)));
        if (ready < 0 && errno != EINTR) throw_errno("poll", errno, m_subject);
        if (ready <= 0) continue;

        // Read straight into the locked buffer: no copy of a PIN on the stack.
        const std::size_t old_size = m_buffer.size();
        m_buffer.resize(kBufferSize);
        const ssize_t n = ::read(m_fd, m_buffer.data() + old_size, kBufferSize - old_size);
        const int err = errno;
        m_buffer.resize(old_size + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
        if (n == 0)
            throw Error(Errc::io, "pinentry ended before answering", EPIPE, std::string(call), m_subject)
                .with_domain(ErrorDomain::os);
        if (n < 0 && err != EINTR && err != EAGAIN) throw_errno("read", err, m_subject);
    }
    throw Error(Errc::malformed,
                "pinentry sent a line longer than the Assuan limit of " + std::to_string(kMaxLineLength) + " bytes", 0,
                std::string(call), m_subject)
        .with_domain(ErrorDomain::protocol);
}

} // namespace trustkey::pinentry
