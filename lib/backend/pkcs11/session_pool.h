// A bounded pool of PKCS#11 sessions on one token. A session is used by one
// thread at a time: acquire() waits for a free one and returns a lease that
// gives it back. A lease marked broken closes its session; a new one is
// opened when needed.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "lib/backend/pkcs11/session.h"

namespace trustkey::backend::pkcs11 {

class SessionPool {
public:
    class Lease {
    public:
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Lease(Lease&& o) noexcept;
        Lease& operator=(Lease&&) = delete;
        ~Lease();

        Session& session() noexcept { return *m_session; }
        CK_SESSION_HANDLE get() const noexcept { return m_session->get(); }
        CK_FUNCTION_LIST* fn() const noexcept { return m_session->fn(); }
        // Records `rv`; a return value that ends the session makes it be replaced.
        void note(CK_RV rv) noexcept;
        void mark_broken() noexcept { m_broken = true; }

    private:
        friend class SessionPool;
        Lease(SessionPool* pool, std::optional<Session> session) : m_pool(pool), m_session(std::move(session)) {}
        SessionPool* m_pool;
        std::optional<Session> m_session;
        bool m_broken = false;
    };

    // Opens one session now (so the token's login state lives as long as the pool).
    SessionPool(std::shared_ptr<Module> module, CK_SLOT_ID slot, std::size_t size);
    SessionPool(const SessionPool&) = delete;
    SessionPool& operator=(const SessionPool&) = delete;

    Lease acquire();
    std::size_t size() const noexcept { return m_size; }
    CK_SLOT_ID slot() const noexcept { return m_slot; }
    const std::shared_ptr<Module>& module() const noexcept { return m_module; }

private:
    void give_back(std::optional<Session>& session, bool broken) noexcept;

    std::shared_ptr<Module> m_module;
    CK_SLOT_ID m_slot;
    std::size_t m_size;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::vector<Session> m_free;
    std::size_t m_open = 0;
};

} // namespace trustkey::backend::pkcs11
