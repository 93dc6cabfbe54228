#include "daemon/server/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
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

} // namespace
} // namespace trustkey::server
