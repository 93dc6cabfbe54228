#include "lib/core/removal_watch.h"

#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace trustkey {
namespace {

namespace fs = std::filesystem;

class RemovalWatchTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        m_dir = fs::temp_directory_path() / ("trustkey-removal-watch-" + std::to_string(rd()));
        fs::create_directories(m_dir);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
        fs::remove_all(m_dir.string() + "-moved", ec);
    }
    fs::path file(const std::string& name) {
        const fs::path p = m_dir / name;
        std::ofstream(p) << "x";
        return p;
    }
    fs::path m_dir;
};

TEST_F(RemovalWatchTest, QuietUntilAFileIsRemovedThenQuietAgain) {
    const fs::path a = file("a");
    RemovalWatch w(m_dir);
    ASSERT_TRUE(w.watching());
    EXPECT_FALSE(w.files_may_be_gone());
    file("b");                                 // new files and writes are not removals
    std::ofstream(a, std::ios::app) << "more";
    EXPECT_FALSE(w.files_may_be_gone());
    fs::remove(a);
    EXPECT_TRUE(w.files_may_be_gone());   // seen at once: the event is queued by unlink itself
    EXPECT_FALSE(w.files_may_be_gone());  // and reported once
}

TEST_F(RemovalWatchTest, RenamingAFileAwayCounts) {
    const fs::path a = file("a");
    RemovalWatch w(m_dir);
    fs::rename(a, fs::temp_directory_path() / (m_dir.filename().string() + "-moved"));
    EXPECT_TRUE(w.files_may_be_gone());
    EXPECT_FALSE(w.files_may_be_gone());
}

TEST_F(RemovalWatchTest, ManyRemovalsBetweenLooksAreOneAnswer) {
    for (int i = 0; i < 300; ++i) file("f" + std::to_string(i));
    RemovalWatch w(m_dir);
    for (int i = 0; i < 300; ++i) fs::remove(m_dir / ("f" + std::to_string(i)));
    EXPECT_TRUE(w.files_may_be_gone());
    EXPECT_FALSE(w.files_may_be_gone());
}

TEST_F(RemovalWatchTest, TheDirectoryGoingMeansAlwaysCheck) {
    file("a");
    RemovalWatch w(m_dir);
    const fs::path moved = m_dir.string() + "-moved";
    fs::rename(m_dir, moved);
    EXPECT_TRUE(w.files_may_be_gone());
    EXPECT_FALSE(w.watching());
    EXPECT_TRUE(w.files_may_be_gone());  // no longer watched: every look says check
}

TEST_F(RemovalWatchTest, AnUnwatchableDirectoryAlwaysSaysCheck) {
    RemovalWatch w(m_dir / "does-not-exist");
    EXPECT_FALSE(w.watching());
    EXPECT_TRUE(w.files_may_be_gone());
    EXPECT_TRUE(w.files_may_be_gone());
}

} // namespace
} // namespace trustkey
