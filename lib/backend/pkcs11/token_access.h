#pragma once
// Who may use the token at a time. Signing, listing and logging in share it;
// creating or destroying objects takes it alone.
//
// Exclusive writes are not a PKCS#11 requirement, but SoftHSM2's file-backed object
// store is known to fail object creation (CKR_GENERAL_ERROR, CKR_TEMPLATE_INCONSISTENT)
// when another session reads the token while the object files are being written.
// Writes are rare (generate, import, remove), so holding signers back for them costs
// little; waiting writers go first so a steady stream of signatures cannot starve them.

#include <pthread.h>

#include <atomic>
#include <thread>

namespace trustkey::backend::pkcs11 {

class TokenAccess {
public:
    TokenAccess();
    ~TokenAccess();
    TokenAccess(const TokenAccess&) = delete;
    TokenAccess& operator=(const TokenAccess&) = delete;

    // Lockable / SharedLockable, for std::unique_lock and std::shared_lock.
    void lock();
    void unlock();
    void lock_shared();
    void unlock_shared();

    // True while the calling thread holds the exclusive lock, so an operation
    // nested inside a write does not try to share it.
    bool held_by_this_thread() const noexcept;

    // Shares the token unless this thread already holds it alone.
    class Reader {
    public:
        explicit Reader(TokenAccess& access);
        ~Reader();
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;

    private:
        TokenAccess* m_access = nullptr;
    };

private:
    pthread_rwlock_t m_lock;
    std::atomic<std::thread::id> m_writer{};
};

} // namespace trustkey::backend::pkcs11
