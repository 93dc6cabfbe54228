// Reads or writes a whole buffer on a blocking descriptor: what the bench's bare socket peers
// (the round trip, the bare signer) send each other.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trustkey::bench {

// False on end of file or an error (EINTR is retried).
bool read_exact(int fd, std::uint8_t* buf, std::size_t size);
bool write_exact(int fd, const std::uint8_t* buf, std::size_t size);

} // namespace trustkey::bench
