// The pinentry conversation against a stand-in program (fake_pinentry) that answers
// a PIN or misbehaves in one chosen way.
#include "lib/pinentry/pinentry_session.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "lib/core/error.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::pinentry {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class FakePinentryTest : public ::testing::Test {
protected:
    PinentryOptions options(const std::string& mode, std::vector<std::string> more_env = {}) {
        PinentryOptions o;
        o.program = FAKE_PINENTRY_PATH;
        o.env = {"FAKE_PINENTRY_MODE=" + mode, "FAKE_PINENTRY_LOG=" + (m_dir / "log").string()};
        o.env.insert(o.env.end(), more_env.begin(), more_env.end());
        o.reply_timeout = 5s;
        o.entry_timeout = 5s;
        return o;
    }
    std::string log() const {
        std::ifstream in(m_dir / "log");
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    pid_t logged_pid() const {
        std::ifstream in(m_dir / "log");
        std::string word;
        pid_t pid = -1;
        in >> word >> pid;
        return word == "PID" ? pid : -1;
    }
    // Runs `f`, which must throw Error, and returns it.
    template <typename F>
    Error error_of(F&& f) {
        try {
            f();
        } catch (const Error& e) {
            return e;
        }
        ADD_FAILURE() << "no error";
        return Error(Errc::internal, "no error");
    }

    test::TempDir m_dir{"pinentry-test"};
};

TEST_F(FakePinentryTest, ReturnsTheEnteredPinAndSendsTheTextsEscaped) {
    PinentryOptions o = options("answer", {"FAKE_PINENTRY_PIN=12%34 56"});
    o.ttyname = "/dev/pts/77";
    o.ttytype = "xterm";
    o.lc_ctype = "C.UTF-8";
    o.display = ":9";
    const PinReply reply = ask_pin(o, {.title = "trustkey",
                                       .description = "Token \"ci\" (serial 42)\nkey releases: 100%",
                                       .prompt = "PIN:",
                                       .error = "Wrong PIN, 2 tries left"});
    EXPECT_EQ(reply.status, PinStatus::entered);
    EXPECT_EQ(as_string_view(reply.pin), "12%34 56");

    const std::string sent = log();
    EXPECT_NE(sent.find("OPTION ttyname=/dev/pts/77\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("OPTION ttytype=xterm\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("OPTION lc-ctype=C.UTF-8\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("OPTION display=:9\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("SETTIMEOUT 5\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("SETTITLE trustkey\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("SETDESC Token \"ci\" (serial 42)%0Akey releases: 100%25\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("SETPROMPT PIN:\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("SETERROR Wrong PIN, 2 tries left\n"), std::string::npos) << sent;
    EXPECT_NE(sent.find("GETPIN\nBYE\n"), std::string::npos) << sent;
    // The PIN itself only ever came back, never went out.
    EXPECT_EQ(sent.find("12%34"), std::string::npos);
}

TEST_F(FakePinentryTest, DecodesPercentEncodedData) {
    const PinReply reply = ask_pin(options("data", {"FAKE_PINENTRY_DATA=a%25b%0Ac%0Dd%20e"}), {});
    EXPECT_EQ(reply.status, PinStatus::entered);
    EXPECT_EQ(as_string_view(reply.pin), "a%b\nc\rd e");
}

TEST_F(FakePinentryTest, ABrokenEscapeInTheDataIsAProtocolError) {
    const Error e = error_of([&] { ask_pin(options("data", {"FAKE_PINENTRY_DATA=12%G4"}), {}); });
    EXPECT_EQ(e.errc(), Errc::malformed);
    EXPECT_EQ(e.domain(), ErrorDomain::protocol);
}

TEST_F(FakePinentryTest, AnEmptyAnswerIsAnEmptyPin) {
    const PinReply reply = ask_pin(options("answer"), {});
    EXPECT_EQ(reply.status, PinStatus::entered);
    EXPECT_TRUE(reply.pin.empty());
}

TEST_F(FakePinentryTest, CancelIsItsOwnResult) {
    const PinReply reply = ask_pin(options("cancel"), {});
    EXPECT_EQ(reply.status, PinStatus::cancelled);
    EXPECT_TRUE(reply.pin.empty());
}

TEST_F(FakePinentryTest, ConfirmSaysYesOrNo) {
    {
        PinentrySession yes(options("answer"));
        yes.set_description("Use key releases?");
        EXPECT_TRUE(yes.confirm());
    }
    PinentrySession no(options("cancel"));
    EXPECT_FALSE(no.confirm());
    EXPECT_NE(log().find("SETDESC Use key releases?\nCONFIRM\n"), std::string::npos) << log();
}

TEST_F(FakePinentryTest, AnOverlongReplyIsRejected) {
    const Error e = error_of([&] { ask_pin(options("overlong"), {}); });
    EXPECT_EQ(e.errc(), Errc::malformed);
    EXPECT_NE(e.message().find("longer than the Assuan limit of 1000 bytes"), std::string::npos) << e.message();
    EXPECT_EQ(e.call(), "pinentry GETPIN");
    // The line's content is not in the error.
    EXPECT_EQ(std::string(e.what()).find("7777"), std::string::npos);
}

TEST_F(FakePinentryTest, AGarbageReplyIsRejectedWithoutEchoingIt) {
    const Error e = error_of([&] { ask_pin(options("garbage"), {}); });
    EXPECT_EQ(e.errc(), Errc::malformed);
    EXPECT_NE(e.message().find("not an Assuan reply"), std::string::npos) << e.message();
    EXPECT_EQ(std::string(e.what()).find("1234"), std::string::npos) << e.what();
}

TEST_F(FakePinentryTest, AProgramThatDoesNotGreetIsRejected) {
    const Error e = error_of([&] { PinentrySession s(options("no-greeting")); });
    EXPECT_EQ(e.errc(), Errc::malformed);
    EXPECT_NE(e.message().find("does not greet"), std::string::npos) << e.message();
}

TEST_F(FakePinentryTest, AProgramThatExitsAtOnceIsReportedWithItsStatus) {
    const Error e = error_of([&] { PinentrySession s(options("exit-at-start")); });
    EXPECT_EQ(e.errc(), Errc::io);
    EXPECT_NE(e.message().find("exited with status 3"), std::string::npos) << e.message();
}

TEST_F(FakePinentryTest, AProgramThatExitsBeforeAnsweringIsAnError) {
    PinentrySession s(options("exit-early"));
    s.set_description("Token ci");
    const Error e = error_of([&] { s.get_pin(); });
    EXPECT_EQ(e.errc(), Errc::io);
    EXPECT_EQ(e.code(), static_cast<std::uint64_t>(EPIPE));
    EXPECT_NE(e.message().find("ended before answering"), std::string::npos) << e.message();
    // The conversation is over: a further request fails at once.
    const Error again = error_of([&] { s.get_pin(); });
    EXPECT_EQ(again.errc(), Errc::internal);
}

TEST_F(FakePinentryTest, AHungProgramTimesOutAndIsKilled) {
    PinentryOptions o = options("hang");
    o.entry_timeout = 1s;
    pid_t pid = -1;
    const auto start = Clock::now();
    {
        PinentrySession s(o);
        pid = logged_pid();
        ASSERT_GT(pid, 0);
        const Error e = error_of([&] { s.get_pin(); });
        EXPECT_EQ(e.errc(), Errc::io);
        EXPECT_EQ(e.code(), static_cast<std::uint64_t>(ETIMEDOUT));
        EXPECT_EQ(e.call(), "pinentry GETPIN");
        EXPECT_EQ(::kill(pid, 0), 0) << "the program is still there until the session goes";
    }
    const auto waited = Clock::now() - start;
    EXPECT_GE(waited, 1s);
    EXPECT_LT(waited, 5s);
    // Killed and reaped: no such process any more.
    EXPECT_EQ(::kill(pid, 0), -1);
    EXPECT_EQ(errno, ESRCH);
}

TEST_F(FakePinentryTest, AMissingProgramIsAClearError) {
    PinentryOptions o = options("answer");
    o.program = "trustkey-no-such-pinentry";
    const Error e = error_of([&] { PinentrySession s(o); });
    EXPECT_EQ(e.errc(), Errc::io);
    EXPECT_EQ(e.code(), static_cast<std::uint64_t>(ENOENT));
    EXPECT_EQ(e.subject(), "trustkey-no-such-pinentry");
    EXPECT_NE(e.message().find("cannot start the pinentry program"), std::string::npos);
}

TEST_F(FakePinentryTest, ADescriptionOverTheLineLimitIsRefusedBeforeSending) {
    PinentrySession s(options("answer"));
    const Error e = error_of([&] { s.set_description(std::string(600, '\n')); });
    EXPECT_EQ(e.errc(), Errc::invalid_argument);
    EXPECT_NE(e.message().find("longer than the Assuan limit"), std::string::npos);
}

} // namespace
} // namespace trustkey::pinentry
