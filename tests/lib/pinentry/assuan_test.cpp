#include "lib/pinentry/assuan.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <thread>

#include "lib/core/error.h"
#include "lib/core/unique_fd.h"

namespace trustkey::pinentry {
namespace {

using namespace std::chrono_literals;

struct SocketPair {
    UniqueFd ours, theirs;
    SocketPair() {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ours = UniqueFd(fds[0]);
        theirs = UniqueFd(fds[1]);
        ::fcntl(ours.get(), F_SETFL, O_NONBLOCK);
    }
    void send(const std::string& s) { ASSERT_EQ(::write(theirs.get(), s.data(), s.size()), static_cast<ssize_t>(s.size())); }
};

std::string decoded(std::string_view data) {
    LockedBytes out;
    percent_decode_append(data, out);
    return std::string(as_string_view(out));
}

TEST(PercentEscape, EscapesPercentCarriageReturnLineFeedAndControls) {
    EXPECT_EQ(percent_escape("Token \"ci\"\nserial 42\r100% sure\x01"), "Token \"ci\"%0Aserial 42%0D100%25 sure%01");
    EXPECT_EQ(percent_escape("plain text: ÄÖ"), "plain text: ÄÖ");
}

TEST(PercentDecode, DecodesEscapesAndKeepsTheRest) {
    EXPECT_EQ(decoded("12%2534%0A%0d x"), "12%34\n\r x");
    EXPECT_EQ(decoded(""), "");
    // Round trip through the escaper.
    const std::string text = "a%b\nc\rd";
    EXPECT_EQ(decoded(percent_escape(text)), text);
}

TEST(PercentDecode, RejectsABrokenEscape) {
    for (const char* bad : {"12%G1", "12%4", "12%"}) {
        try {
            decoded(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.errc(), Errc::malformed) << bad;
            EXPECT_NE(e.message().find("%-escape"), std::string::npos);
        }
    }
}

TEST(LineReader, ReturnsLinesSplitAcrossReadsAndDropsCarriageReturn) {
    SocketPair pair;
    LineReader reader(pair.ours.get(), "peer");
    pair.send("OK Pleased");
    std::thread later([&] {
        std::this_thread::sleep_for(50ms);
        pair.send(" to meet you\r\nD 1234\nOK\n");
    });
    const auto deadline = LineReader::Clock::now() + 5s;
    EXPECT_EQ(reader.next_line(deadline, "t"), "OK Pleased to meet you");
    later.join();
    EXPECT_EQ(reader.next_line(deadline, "t"), "D 1234");
    EXPECT_EQ(reader.next_line(deadline, "t"), "OK");
}

TEST(LineReader, AcceptsALineOfExactlyTheLimit) {
    SocketPair pair;
    LineReader reader(pair.ours.get(), "peer");
    const std::string longest = "D " + std::string(kMaxLineLength - 3, 'x');
    pair.send(longest + "\nOK\n");
    const auto deadline = LineReader::Clock::now() + 5s;
    EXPECT_EQ(reader.next_line(deadline, "t"), longest);
    EXPECT_EQ(reader.next_line(deadline, "t"), "OK");
}

TEST(LineReader, RejectsALineOverTheLimit) {
    SocketPair pair;
    LineReader reader(pair.ours.get(), "peer");
    pair.send("D " + std::string(kMaxLineLength - 2, 'x') + "\n");
    try {
        reader.next_line(LineReader::Clock::now() + 5s, "pinentry GETPIN");
        FAIL() << "an overlong line was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::malformed);
        EXPECT_NE(e.message().find("longer than the Assuan limit of 1000 bytes"), std::string::npos) << e.message();
        EXPECT_EQ(e.call(), "pinentry GETPIN");
    }
}

TEST(LineReader, RejectsAnUnterminatedRunOverTheLimit) {
    SocketPair pair;
    LineReader reader(pair.ours.get(), "peer");
    pair.send(std::string(3000, 'y'));
    try {
        reader.next_line(LineReader::Clock::now() + 5s, "t");
        FAIL() << "an overlong line was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::malformed);
    }
}

TEST(LineReader, TimesOutWhenNothingComes) {
    SocketPair pair;
    LineReader reader(pair.ours.get(), "peer");
    pair.send("OK no newline yet");
    const auto start = LineReader::Clock::now();
    try {
        reader.next_line(start + 300ms, "t");
        FAIL() << "no timeout";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::io);
        EXPECT_EQ(e.code(), static_cast<std::uint64_t>(ETIMEDOUT));
    }
    const auto waited = LineReader::Clock::now() - start;
    EXPECT_GE(waited, 300ms);
    EXPECT_LT(waited, 3s);
}

TEST(LineReader, ReportsTheEndOfInput) {
    SocketPair pair;
    LineReader reader(pair.ours.get(), "peer");
    pair.send("OK\nhalf a li");
    pair.theirs.reset();
    const auto deadline = LineReader::Clock::now() + 5s;
    EXPECT_EQ(reader.next_line(deadline, "t"), "OK");
    try {
        reader.next_line(deadline, "t");
        FAIL() << "no end of input";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::io);
        EXPECT_EQ(e.code(), static_cast<std::uint64_t>(EPIPE));
    }
}

} // namespace
} // namespace trustkey::pinentry
