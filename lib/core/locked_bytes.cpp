#include "lib/core/locked_bytes.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include <openssl/crypto.h>

#include "lib/core/error.h"

namespace trustkey::locked_memory {

namespace {

std::size_t page_rounded(std::size_t bytes) {
    static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    if (bytes == 0) return page;
    return (bytes + page - 1) / page * page;
}

} // namespace

void* allocate(std::size_t bytes) {
    const std::size_t size = page_rounded(bytes);
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw_errno("mmap", errno, "locked memory");
    if (::mlock(p, size) != 0) {
        const int err = errno;
        ::munmap(p, size);
        throw_errno("mlock", err, "locked memory (RLIMIT_MEMLOCK)");
    }
    // Best effort: a kernel without MADV_DONTDUMP still has the pages locked.
    (void)::madvise(p, size, MADV_DONTDUMP);
    return p;
}

void deallocate(void* p, std::size_t bytes) noexcept {
    if (p == nullptr) return;
    const std::size_t size = page_rounded(bytes);
    OPENSSL_cleanse(p, size);
    ::munlock(p, size);
    ::munmap(p, size);
}

} // namespace trustkey::locked_memory
