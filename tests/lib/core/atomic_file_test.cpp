#include "lib/core/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/core/error.h"

namespace trustkey {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "trustkey-atomic-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        m_dir = tmpl;
    }
    void TearDown() override { fs::remove_all(m_dir); }
    // Names in m_dir, to see that nothing temporary is left.
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(m_dir)) out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
    fs::path m_dir;
};

TEST_F(AtomicFileTest, FileIsReplacedWholeWithItsMode) {
    const fs::path f = m_dir / "a.json";
    write_file_atomically(f, "old");
    write_file_atomically(f, "new content", 0600);
    EXPECT_EQ(read_file(f), "new content");
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(entries(), std::vector<std::string>{"a.json"});
}

TEST_F(AtomicFileTest, NewDirectoryAppearsWithAllItsFiles) {
    write_new_directory(m_dir / "bundle", {{"root.json", "{}"}, {"bundle.json", "[]"}});
    EXPECT_EQ(read_file(m_dir / "bundle" / "root.json"), "{}");
    EXPECT_EQ(read_file(m_dir / "bundle" / "bundle.json"), "[]");
    EXPECT_EQ(entries(), std::vector<std::string>{"bundle"});
}

TEST_F(AtomicFileTest, ExistingDirectoryIsRefusedAndLeftAlone) {
    fs::create_directory(m_dir / "bundle");
    write_file_atomically(m_dir / "bundle" / "mine", "keep");
    try {
        write_new_directory(m_dir / "bundle", {{"root.json", "{}"}});
        ADD_FAILURE() << "an existing directory was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::already_exists) << e.what();
    }
    EXPECT_EQ(read_file(m_dir / "bundle" / "mine"), "keep");
    EXPECT_FALSE(fs::exists(m_dir / "bundle" / "root.json"));
    EXPECT_EQ(entries(), std::vector<std::string>{"bundle"});
}

TEST_F(AtomicFileTest, FailedDirectoryLeavesNothing) {
    // A file name with a directory part that does not exist: its write fails part-way.
    EXPECT_THROW(write_new_directory(m_dir / "bundle", {{"a.json", "1"}, {"missing/b.json", "2"}}), Error);
    EXPECT_TRUE(entries().empty());
}

} // namespace
} // namespace trustkey
