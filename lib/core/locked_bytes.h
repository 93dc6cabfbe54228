// Byte buffers for secrets that must not reach swap or a core dump (a PIN typed
// into pinentry, a cached PIN): each allocation gets whole pages of its own that are
// mlock'ed and marked MADV_DONTDUMP, and wiped with OPENSSL_cleanse before they are
// unlocked and unmapped. Allocation throws Error(io) when the pages cannot be locked
// (RLIMIT_MEMLOCK), rather than quietly holding the secret in swappable memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "lib/core/secure_bytes.h"

namespace trustkey {

namespace locked_memory {
// Page-aligned, locked, non-dumpable, zeroed memory for `bytes` bytes (at least one page).
void* allocate(std::size_t bytes);
// Wipes, unlocks and unmaps what allocate(bytes) returned.
void deallocate(void* p, std::size_t bytes) noexcept;
} // namespace locked_memory

template <typename T>
struct LockedAllocator {
    using value_type = T;
    LockedAllocator() noexcept = default;
    template <typename U>
    LockedAllocator(const LockedAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(locked_memory::allocate(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { locked_memory::deallocate(p, n * sizeof(T)); }
    template <typename U>
    bool operator==(const LockedAllocator<U>&) const noexcept { return true; }
};

// Secret bytes in locked memory. Has no stream operator on purpose.
using LockedBytes = std::vector<std::uint8_t, LockedAllocator<std::uint8_t>>;

inline std::string_view as_string_view(const LockedBytes& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
// A copy in an ordinary wiping buffer, for APIs that take SecureBytes.
inline SecureBytes to_secure(const LockedBytes& b) { return SecureBytes(b.begin(), b.end()); }
// A copy in locked memory.
inline LockedBytes to_locked(std::string_view s) {
    LockedBytes out;
    out.reserve(s.size());
    out.assign(s.begin(), s.end());
    return out;
}

} // namespace trustkey
