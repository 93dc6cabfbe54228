// The transcript's hash chain: appended lines link up, and an edited, removed or
// half-written line is found and named.
#include "tools/ceremony/transcript.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "lib/core/encoding.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/expect_error.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::ceremony {
namespace {

using test::expect_error;
using test::write_file;

std::vector<std::string> read_lines(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string join(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
}

class TranscriptTest : public ::testing::Test {
protected:
    void SetUp() override {
        Transcript t(m_path, "alice");
        t.append({"start", {}, {}, {{"command", "root generate"}}});
        t.append({"token", {"serial-1"}, {}, {{"label", "a"}}});
        t.append({"root generate: key", {"serial-1"}, {"abc"}, {}});
    }
    test::TempDir m_dir{"ceremony-transcript"};
    std::filesystem::path m_path = m_dir / "transcript.jsonl";
};

TEST_F(TranscriptTest, LinesAreChainedByHash) {
    const auto lines = verify_transcript(m_path);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0]["prev"], kNoPreviousLine);
    const auto raw = read_lines(m_path);
    for (std::size_t i = 1; i < lines.size(); ++i) {
        // prev is the previous line's hash, computed here independently of the library.
        auto prev = nlohmann::json::parse(raw[i - 1]);
        prev.erase("hash");
        EXPECT_EQ(lines[i]["prev"], lines[i - 1]["hash"]);
        EXPECT_EQ(lines[i - 1]["hash"], to_hex(sha256(as_bytes(prev.dump()))));
        EXPECT_EQ(lines[i]["seq"], i + 1);
    }
    EXPECT_EQ(lines[1]["operator"], "alice");
    EXPECT_EQ(lines[1]["tokens"], nlohmann::json::array({"serial-1"}));
    EXPECT_EQ(lines[2]["keys"], nlohmann::json::array({"abc"}));
    EXPECT_EQ(lines[2]["time"].get<std::string>().size(), std::string("2026-01-01T00:00:00Z").size());
}

TEST_F(TranscriptTest, EditedLineIsNamed) {
    auto lines = read_lines(m_path);
    const auto at = lines[1].find("serial-1");
    ASSERT_NE(at, std::string::npos);
    lines[1].replace(at, 8, "serial-9");
    write_file(m_path, join(lines));
    const Error e = expect_error([&] { verify_transcript(m_path); });
    EXPECT_EQ(e.errc(), Errc::malformed);
    EXPECT_NE(std::string(e.what()).find("line 2: its content does not match its hash"), std::string::npos) << e.what();
}

TEST_F(TranscriptTest, EditedLineWithRecomputedHashBreaksTheNextLine) {
    auto lines = read_lines(m_path);
    auto line = nlohmann::json::parse(lines[1]);
    line["operator"] = "mallory";
    line.erase("hash");
    line["hash"] = to_hex(sha256(as_bytes(line.dump())));
    lines[1] = line.dump();
    write_file(m_path, join(lines));
    const Error e = expect_error([&] { verify_transcript(m_path); });
    EXPECT_NE(std::string(e.what()).find("line 3: the previous line's hash does not match"), std::string::npos)
        << e.what();
}

TEST_F(TranscriptTest, RemovedLineIsFound) {
    auto lines = read_lines(m_path);
    lines.erase(lines.begin() + 1);
    write_file(m_path, join(lines));
    const Error e = expect_error([&] { verify_transcript(m_path); });
    EXPECT_NE(std::string(e.what()).find("line 2: sequence number 3"), std::string::npos) << e.what();
}

TEST_F(TranscriptTest, HalfWrittenLastLineIsReported) {
    const auto lines = read_lines(m_path);
    std::string text = join(lines);
    text.resize(text.size() - 20);
    write_file(m_path, text);
    const Error e = expect_error([&] { verify_transcript(m_path); });
    EXPECT_NE(std::string(e.what()).find("line 3: the line has no end"), std::string::npos) << e.what();
    // And a ceremony does not go on from it.
    const Error again = expect_error([&] { Transcript(m_path, "alice"); });
    EXPECT_EQ(again.errc(), Errc::malformed);
}

TEST_F(TranscriptTest, ReopeningContinuesTheChain) {
    {
        Transcript t(m_path, "bob");
        EXPECT_EQ(t.lines(), 3u);
        t.append({"root sign: done", {}, {"def"}, {}});
    }
    const auto lines = verify_transcript(m_path);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[3]["prev"], lines[2]["hash"]);
    EXPECT_EQ(lines[3]["operator"], "bob");
}

TEST_F(TranscriptTest, SecondWriterIsRefused) {
    Transcript first(m_path, "alice");
    const Error e = expect_error([&] { Transcript(m_path, "bob"); });
    EXPECT_EQ(e.errc(), Errc::denied);
    EXPECT_NE(std::string(e.what()).find(m_path.string()), std::string::npos);
}

} // namespace
} // namespace trustkey::ceremony
