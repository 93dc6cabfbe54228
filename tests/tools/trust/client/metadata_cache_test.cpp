// MetadataCache: notary's layout, permissions, atomic replacement, refused names.
#include "tools/trust/client/metadata_cache.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "lib/core/error.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using trust::MetadataCache;

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

TEST(MetadataCacheTest, WritesNotaryLayoutWithPrivateModes) {
    TempDir dir("trustkey-cache");
    const fs::path trust = dir / "trust";
    MetadataCache cache(trust, "example.com/team/app");
    EXPECT_EQ(cache.dir(), trust / "tuf" / "example.com" / "team" / "app" / "metadata");
    EXPECT_FALSE(cache.read("root").has_value());

    cache.write({{"root", "{\"a\":1}"}, {"targets/releases", "released"}});
    EXPECT_EQ(cache.read("root"), "{\"a\":1}");
    EXPECT_EQ(cache.read("targets/releases"), "released");
    EXPECT_TRUE(fs::is_regular_file(cache.dir() / "targets" / "releases.json"));
    for (const fs::path& d : {trust, trust / "tuf", trust / "tuf" / "example.com", cache.dir(), cache.dir() / "targets"})
        EXPECT_EQ(mode_of(d), 0700u) << d;
    EXPECT_EQ(mode_of(cache.dir() / "root.json"), 0600u);
    EXPECT_EQ(mode_of(cache.dir() / "targets" / "releases.json"), 0600u);

    // Replacing leaves one file with the new bytes and no temporary file behind.
    cache.write({{"root", "second"}});
    EXPECT_EQ(cache.read("root"), "second");
    std::size_t entries = 0;
    for (const auto& e : fs::directory_iterator(cache.dir())) {
        (void)e;
        ++entries;
    }
    EXPECT_EQ(entries, 2u); // root.json and targets/
}

TEST(MetadataCacheTest, ReplaceSwapsInExactlyTheGivenFiles) {
    TempDir dir("trustkey-cache");
    MetadataCache cache(dir / "trust", "example.com/app");
    // Without a folder yet, replace makes it.
    cache.replace({{"root", "first root"}});
    EXPECT_EQ(cache.read("root"), "first root");
    cache.write({{"targets/old", "old delegation"}, {"timestamp", "old timestamp"}});

    cache.replace({{"root", "new root"}, {"targets", "new targets"}});
    EXPECT_EQ(cache.read("root"), "new root");
    EXPECT_EQ(cache.read("targets"), "new targets");
    EXPECT_FALSE(cache.read("timestamp").has_value());
    EXPECT_FALSE(cache.read("targets/old").has_value());
    EXPECT_EQ(mode_of(cache.dir()), 0700u);
    EXPECT_EQ(mode_of(cache.dir() / "root.json"), 0600u);
    // Nothing but the metadata folder and the writers' lock file is left beside it.
    std::size_t siblings = 0;
    for (const auto& e : fs::directory_iterator(cache.dir().parent_path())) {
        if (e.path().filename() == ".metadata.lock") continue;
        EXPECT_EQ(e.path().filename(), "metadata") << e.path();
        ++siblings;
    }
    EXPECT_EQ(siblings, 1u);

    // A bad role name fails before the swap: the folder stays as it was.
    EXPECT_THROW(cache.replace({{"root", "third"}, {"../escape", "x"}}), Error);
    EXPECT_EQ(cache.read("root"), "new root");
    EXPECT_EQ(cache.read("targets"), "new targets");
}

TEST(MetadataCacheTest, RefusesUnsafeNames) {
    TempDir dir("trustkey-cache");
    for (const char* gun : {"", "/abs/app", "a/../b", "a//b", "./a", "a/"})
        EXPECT_THROW(MetadataCache(dir.path(), gun), Error) << gun;
    MetadataCache cache(dir.path(), "example.com/app");
    for (const char* role : {"", "../root", "targets/../../x", "other", "targets/UPPER"}) {
        try {
            (void)cache.read(role);
            ADD_FAILURE() << "accepted role " << role;
        } catch (const Error& e) {
            EXPECT_EQ(e.errc(), Errc::invalid_argument) << role;
        }
    }
}

TEST(MetadataCacheTest, WritersSharingTheCacheTakeTurnsWithAReplace) {
    // Two publishers with one trust directory: one starts the repository afresh (replace)
    // while the other brings its files up to date (write). Each cache object stands for a
    // process of its own; the swap must never take a file from under the other's rename.
    TempDir dir("trustkey-cache");
    const MetadataCache starter(dir / "trust", "example.com/app");
    const MetadataCache updater(dir / "trust", "example.com/app");
    starter.replace({{"root", "root 0"}});
    constexpr int kRounds = 300;
    std::atomic<int> write_failures{0};
    std::string first_failure;
    std::thread writer([&] {
        for (int i = 0; i < kRounds; ++i) {
            try {
                updater.write({{"targets", "targets " + std::to_string(i)}, {"snapshot", "snapshot"}});
            } catch (const Error& e) {
                if (write_failures++ == 0) first_failure = e.what();
            }
        }
    });
    int replace_failures = 0;
    for (int i = 0; i < kRounds; ++i) {
        try {
            starter.replace({{"root", "root " + std::to_string(i)}});
        } catch (const Error&) {
            ++replace_failures;
        }
    }
    writer.join();
    EXPECT_EQ(write_failures.load(), 0) << first_failure;
    EXPECT_EQ(replace_failures, 0);
    EXPECT_EQ(starter.read("root"), "root " + std::to_string(kRounds - 1));
    // Only the folder and the lock file are left: no temporary folder or file of either writer.
    for (const auto& e : fs::directory_iterator(starter.dir().parent_path()))
        EXPECT_TRUE(e.path().filename() == "metadata" || e.path().filename() == ".metadata.lock") << e.path();
    for (const auto& e : fs::directory_iterator(starter.dir()))
        EXPECT_NE(e.path().filename().string().front(), '.') << e.path();
}

} // namespace
} // namespace trustkey::test
