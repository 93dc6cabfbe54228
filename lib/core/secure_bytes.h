// Byte buffers for secrets (PINs, passphrases, private key components):
// memory is wiped with OPENSSL_cleanse when freed, and never printed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <openssl/crypto.h>

namespace trustkey {

template <typename T>
struct ZeroizingAllocator {
    using value_type = T;
    ZeroizingAllocator() noexcept = default;
    template <typename U>
    ZeroizingAllocator(const ZeroizingAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        OPENSSL_cleanse(p, n * sizeof(T));
        std::allocator<T>{}.deallocate(p, n);
    }
    template <typename U>
    bool operator==(const ZeroizingAllocator<U>&) const noexcept { return true; }
};

// Secret bytes. Has no stream operator on purpose.
using SecureBytes = std::vector<std::uint8_t, ZeroizingAllocator<std::uint8_t>>;

inline SecureBytes secure_from(std::string_view s) { return SecureBytes(s.begin(), s.end()); }
inline std::string_view as_string_view(const SecureBytes& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Wipes a std::string or vector in place (for buffers that briefly held a secret).
template <typename C>
void wipe(C& c) noexcept {
    if (!c.empty()) OPENSSL_cleanse(c.data(), c.size() * sizeof(typename C::value_type));
    c.clear();
}

} // namespace trustkey
