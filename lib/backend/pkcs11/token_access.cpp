#include "lib/backend/pkcs11/token_access.h"

#include <cerrno>
#include <system_error>

namespace trustkey::backend::pkcs11 {

namespace {

void check(int rc, const char* what) {
    if (rc != 0) throw std::system_error(rc, std::generic_category(), what);
}

} // namespace

TokenAccess::TokenAccess() {
    pthread_rwlockattr_t attr;
    check(pthread_rwlockattr_init(&attr), "pthread_rwlockattr_init");
    // Writer preference (glibc): a waiting writer blocks new readers.
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    const int rc = pthread_rwlock_init(&m_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    check(rc, "pthread_rwlock_init");
}

TokenAccess::~TokenAccess() { pthread_rwlock_destroy(&m_lock); }

void TokenAccess::lock() {
    check(pthread_rwlock_wrlock(&m_lock), "pthread_rwlock_wrlock");
    m_writer.store(std::this_thread::get_id(), std::memory_order_relaxed);
}

void TokenAccess::unlock() {
    m_writer.store(std::thread::id{}, std::memory_order_relaxed);
    pthread_rwlock_unlock(&m_lock);
}

void TokenAccess::lock_shared() {
    // EAGAIN only when the reader count overflows; wait for a slot rather than fail.
    int rc;
    while ((rc = pthread_rwlock_rdlock(&m_lock)) == EAGAIN) std::this_thread::yield();
    check(rc, "pthread_rwlock_rdlock");
}

void TokenAccess::unlock_shared() { pthread_rwlock_unlock(&m_lock); }

bool TokenAccess::held_by_this_thread() const noexcept {
    return m_writer.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

TokenAccess::Reader::Reader(TokenAccess& access) {
    if (access.held_by_this_thread()) return;
    access.lock_shared();
    m_access = &access;
}

TokenAccess::Reader::~Reader() {
    if (m_access) m_access->unlock_shared();
}

} // namespace trustkey::backend::pkcs11
