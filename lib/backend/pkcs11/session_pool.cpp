#include "lib/backend/pkcs11/session_pool.h"

#include <utility>

#include "lib/backend/pkcs11/ck_error.h"

namespace trustkey::backend::pkcs11 {

SessionPool::Lease::Lease(Lease&& o) noexcept
    : m_pool(std::exchange(o.m_pool, nullptr)), m_session(std::move(o.m_session)), m_broken(o.m_broken) {
    o.m_session.reset();
}

SessionPool::Lease::~Lease() {
    if (m_pool != nullptr && m_session) m_pool->give_back(m_session, m_broken);
}

void SessionPool::Lease::note(CK_RV rv) noexcept {
    if (session_is_broken(rv)) m_broken = true;
}

SessionPool::SessionPool(std::shared_ptr<Module> module, CK_SLOT_ID slot, std::size_t size)
    : m_module(std::move(module)), m_slot(slot), m_size(size == 0 ? 1 : size) {
    m_free.emplace_back(m_module, m_slot);
    m_open = 1;
}

SessionPool::Lease SessionPool::acquire() {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [&] { return !m_free.empty() || m_open < m_size; });
    if (!m_free.empty()) {
        std::optional<Session> s(std::move(m_free.back()));
        m_free.pop_back();
        return Lease(this, std::move(s));
    }
    ++m_open;
    lock.unlock();
    try {
        std::optional<Session> s(std::in_place, m_module, m_slot);
        return Lease(this, std::move(s));
    } catch (...) {
        lock.lock();
        --m_open;
        m_cv.notify_one();
        throw;
    }
}

void SessionPool::give_back(std::optional<Session>& session, bool broken) noexcept {
    {
        std::lock_guard lock(m_mutex);
        if (broken) {
            session.reset();
            --m_open;
        } else {
            try {
                m_free.push_back(std::move(*session));
            } catch (...) {
                --m_open; // out of memory: drop the session
            }
            session.reset();
        }
    }
    m_cv.notify_one();
}

} // namespace trustkey::backend::pkcs11
