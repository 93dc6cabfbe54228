// The client side of the Assuan line protocol as pinentry speaks it: percent
// escaping of command arguments and decoding of data lines, and a reader of the
// server's reply lines with a deadline and the protocol's 1000-byte line limit.
// Reply data (a PIN) is only ever held in locked, wiped memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/core/locked_bytes.h"

namespace trustkey::pinentry {

// The longest Assuan line, its terminating LF included.
inline constexpr std::size_t kMaxLineLength = 1000;

// `text` with '%', CR, LF and the other control characters written as %XX, for
// the argument of a command such as SETDESC.
std::string percent_escape(std::string_view text);
// Appends the decoded `data` (the rest of a "D " line) to `out`. Throws
// Error(malformed) on a '%' not followed by two hex digits.
void percent_decode_append(std::string_view data, LockedBytes& out);

// Assuan error codes are gpg-error values: the source in the top bits, the code in
// the low 16.
inline constexpr std::uint32_t kGpgErrCanceled = 99;
inline constexpr std::uint32_t kGpgErrTimeout = 62;
inline constexpr std::uint32_t kGpgErrNotConfirmed = 114;
inline constexpr std::uint32_t kGpgErrFullyCanceled = 198;
inline constexpr std::uint32_t gpg_err_code(std::uint64_t err) { return static_cast<std::uint32_t>(err & 0xffff); }

// Reads LF-terminated lines from a non-blocking descriptor into locked memory.
class LineReader {
public:
    using Clock = std::chrono::steady_clock;

    // `subject` names the peer in errors (the pinentry program).
    LineReader(int fd, std::string subject);

    // The next line without its LF (and without a CR before it), valid until the next
    // call. Throws Error(io, ETIMEDOUT) when `deadline` passes first, Error(io, EPIPE)
    // at end of input, Error(malformed) for a line over kMaxLineLength.
    std::string_view next_line(Clock::time_point deadline, std::string_view call);

private:
    void drop_consumed() noexcept;

    int m_fd;
    std::string m_subject;
    LockedBytes m_buffer;        // bytes read and not yet handed out
    std::size_t m_consumed = 0;  // how many leading bytes of m_buffer the last line took
};

} // namespace trustkey::pinentry
