#include "daemon/server/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace trustkey::server {
namespace {

using namespace std::chrono_literals;

// A job that waits until `gate` opens, so what is queued behind it stays queued.
WorkQueue::Job blocker(std::uint64_t owner, std::shared_future<void> gate, std::promise<void>& started) {
    return {owner, [gate, &started] {
                started.set_value();
                gate.wait();
            }};
}

TEST(WorkQueue, RunsInArrivalOrderAndRefusesPastItsBound) {
    WorkQueue q("test", 1, 3);
    std::promise<void> open;
    std::promise<void> started;
    ASSERT_TRUE(q.push(blocker(1, open.get_future().share(), started)));
    started.get_future().wait();  // the worker holds it: the queue is empty again

    std::mutex m;
    std::vector<int> order;
    std::promise<void> last;
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(q.push({static_cast<std::uint64_t>(10 + i), [&, i] {
                                std::lock_guard lock(m);
                                order.push_back(i);
                                if (i == 2) last.set_value();
                            }}));
    EXPECT_EQ(q.queued(), 3u);
    EXPECT_FALSE(q.push({99, [] {}}));  // full
    q.push_continuation({98, [] {}});   // an accepted request's next chunk goes all the same
    EXPECT_EQ(q.queued(), 4u);
    open.set_value();
    ASSERT_EQ(last.get_future().wait_for(10s), std::future_status::ready);
    std::lock_guard lock(m);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(WorkQueue, DropRemovesOnlyTheQueuedJobsOfOneOwner) {
    WorkQueue q("test", 1, 16);
    std::promise<void> open;
    std::promise<void> started;
    ASSERT_TRUE(q.push(blocker(7, open.get_future().share(), started)));
    started.get_future().wait();
    std::atomic<int> ran7{0}, ran8{0};
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.push({7, [&] { ++ran7; }}));
    std::promise<void> done;
    ASSERT_TRUE(q.push({8, [&] {
                            ++ran8;
                            done.set_value();
                        }}));
    EXPECT_EQ(q.drop(7), 3u);  // the running one is not counted
    EXPECT_EQ(q.queued(), 1u);
    open.set_value();
    ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
    EXPECT_EQ(ran7.load(), 0);
    EXPECT_EQ(ran8.load(), 1);
}

TEST(WorkQueue, InlineOnlyWhenNothingWaitsAndAWorkerIsIdle) {
    WorkQueue q("test", 1, 16);
    // Idle: the caller may take the worker's place, once.
    ASSERT_TRUE(q.try_begin_inline());
    EXPECT_FALSE(q.try_begin_inline());

    // A job queued meanwhile waits for the place to be given back: never two at once.
    std::atomic<bool> ran{false};
    std::promise<void> done;
    ASSERT_TRUE(q.push({1, [&] {
                            ran = true;
                            done.set_value();
                        }}));
    auto finished = done.get_future();
    EXPECT_EQ(finished.wait_for(200ms), std::future_status::timeout);
    EXPECT_FALSE(ran.load());
    q.end_inline();
    ASSERT_EQ(finished.wait_for(10s), std::future_status::ready);

    // The worker busy: no.
    std::promise<void> open;
    std::promise<void> started;
    ASSERT_TRUE(q.push(blocker(2, open.get_future().share(), started)));
    started.get_future().wait();
    EXPECT_FALSE(q.try_begin_inline());
    // Work waiting: no, even once the worker is free, until the queue is empty.
    std::promise<void> second;
    ASSERT_TRUE(q.push({3, [&] { second.set_value(); }}));
    EXPECT_FALSE(q.try_begin_inline());
    open.set_value();
    ASSERT_EQ(second.get_future().wait_for(10s), std::future_status::ready);
    // Both ended: free again (the worker gives its place back just after the job returns).
    bool free = false;
    for (int i = 0; i < 1000 && !free; ++i) {
        free = q.try_begin_inline();
        if (!free) std::this_thread::sleep_for(1ms);
    }
    EXPECT_TRUE(free);
    q.end_inline();
}

} // namespace
} // namespace trustkey::server
