#include "lib/backend/pkcs11/session_pool.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "lib/backend/pkcs11/ck_error.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::backend::pkcs11 {
namespace {

class SessionPoolTest : public ::testing::Test {
protected:
    void SetUp() override {
        module = Module::open(test::SoftHsmToken::module());
        CK_ULONG count = 0;
        ASSERT_EQ(module->fn()->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_OK);
        std::vector<CK_SLOT_ID> slots(count);
        ASSERT_EQ(module->fn()->C_GetSlotList(CK_TRUE, slots.data(), &count), CKR_OK);
        for (CK_ULONG i = 0; i < count; ++i) {
            CK_TOKEN_INFO info{};
            ASSERT_EQ(module->fn()->C_GetTokenInfo(slots[i], &info), CKR_OK);
            if (info.flags & CKF_TOKEN_INITIALIZED) slot = slots[i];
        }
        ASSERT_NE(slot, static_cast<CK_SLOT_ID>(-1));
    }
    bool usable(SessionPool::Lease& lease) {
        CK_SESSION_INFO info{};
        return lease.fn()->C_GetSessionInfo(lease.get(), &info) == CKR_OK;
    }

    test::SoftHsmToken token;
    std::shared_ptr<Module> module;
    CK_SLOT_ID slot = static_cast<CK_SLOT_ID>(-1);
};

TEST_F(SessionPoolTest, ReusesSessions) {
    SessionPool pool(module, slot, 2);
    CK_SESSION_HANDLE first;
    {
        auto lease = pool.acquire();
        first = lease.get();
        EXPECT_TRUE(usable(lease));
    }
    auto again = pool.acquire();
    EXPECT_EQ(again.get(), first);
    auto second = pool.acquire();
    EXPECT_NE(second.get(), first);
    EXPECT_TRUE(usable(second));
}

TEST_F(SessionPoolTest, AcquireWaitsForAFreeSession) {
    SessionPool pool(module, slot, 1);
    auto held = std::make_unique<SessionPool::Lease>(pool.acquire());
    CK_SESSION_HANDLE handle = held->get();
    std::atomic<bool> started{false}, acquired{false};
    CK_SESSION_HANDLE got = CK_INVALID_HANDLE;
    std::thread waiter([&] {
        started = true;
        auto lease = pool.acquire();
        got = lease.get();
        acquired = true;
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!started && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    ASSERT_TRUE(started);
    EXPECT_FALSE(acquired);  // the only session is leased
    held.reset();
    waiter.join();
    EXPECT_TRUE(acquired);
    EXPECT_EQ(got, handle);  // the same, single session
}

TEST_F(SessionPoolTest, BrokenSessionIsReplaced) {
    SessionPool pool(module, slot, 1);
    CK_SESSION_HANDLE old;
    {
        auto lease = pool.acquire();
        old = lease.get();
        // The session dies behind the pool's back; the next call reports it.
        ASSERT_EQ(lease.fn()->C_CloseSession(lease.get()), CKR_OK);
        CK_SESSION_INFO info{};
        CK_RV rv = lease.fn()->C_GetSessionInfo(lease.get(), &info);
        EXPECT_TRUE(session_is_broken(rv)) << rv;
        lease.note(rv);
    }
    auto fresh = pool.acquire();
    EXPECT_NE(fresh.get(), old);
    EXPECT_TRUE(usable(fresh));
}

TEST_F(SessionPoolTest, MarkBrokenClosesTheSession) {
    SessionPool pool(module, slot, 1);
    CK_SESSION_HANDLE old;
    {
        auto lease = pool.acquire();
        old = lease.get();
        lease.mark_broken();
    }
    CK_SESSION_INFO info{};
    EXPECT_EQ(module->fn()->C_GetSessionInfo(old, &info), CKR_SESSION_HANDLE_INVALID);
    auto fresh = pool.acquire();
    EXPECT_TRUE(usable(fresh));
}

} // namespace
} // namespace trustkey::backend::pkcs11
