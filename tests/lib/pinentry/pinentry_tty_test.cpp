// The pinentry conversation against Debian's real pinentry-tty, which asks on a
// pseudo-terminal the test holds and types at.
#include <gtest/gtest.h>

#include <future>
#include <string>

#include "lib/core/error.h"
#include "lib/pinentry/pinentry_session.h"
#include "tests/fixtures/pty_terminal.h"

namespace trustkey::pinentry {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using Terminal = test::PtyTerminal;

class PinentryTtyTest : public ::testing::Test {
protected:
    PinentryOptions options() const {
        PinentryOptions o;
        o.program = "pinentry-tty";
        o.ttyname = m_terminal.name();
        o.ttytype = "dumb";
        o.lc_ctype = "C.UTF-8";
        o.reply_timeout = 10s;
        o.entry_timeout = 30s;
        return o;
    }
    Terminal m_terminal;
};

TEST_F(PinentryTtyTest, TypedPinComesBack) {
    PinentrySession session(options());
    session.set_description("Token \"ci-token\" (serial 9f3a)\nkey releases");
    session.set_prompt("PIN:");
    auto pin = std::async(std::launch::async, [&] { return session.get_pin(); });
    ASSERT_TRUE(m_terminal.wait_for("PIN:")) << m_terminal.output();
    // The description arrived decoded, on two lines.
    EXPECT_NE(m_terminal.output().find("Token \"ci-token\" (serial 9f3a)\r\nkey releases"), std::string::npos)
        << m_terminal.output();
    m_terminal.type("7%41 9\r");
    const PinReply reply = pin.get();
    EXPECT_EQ(reply.status, PinStatus::entered);
    EXPECT_EQ(as_string_view(reply.pin), "7%41 9");
    // Not echoed.
    EXPECT_EQ(m_terminal.output().find("7%41"), std::string::npos) << m_terminal.output();
    session.bye();
}

TEST_F(PinentryTtyTest, CtrlDCancels) {
    PinentrySession session(options());
    session.set_description("Token ci-token");
    auto pin = std::async(std::launch::async, [&] { return session.get_pin(); });
    ASSERT_TRUE(m_terminal.wait_for("PIN")) << m_terminal.output();
    m_terminal.type("\x04");
    const PinReply reply = pin.get();
    EXPECT_EQ(reply.status, PinStatus::cancelled);
    EXPECT_TRUE(reply.pin.empty());
    // The session goes on after a cancel: asked again, a PIN is returned.
    const std::size_t shown_before = m_terminal.output().size();
    auto again = std::async(std::launch::async, [&] { return session.get_pin(); });
    ASSERT_TRUE(m_terminal.wait_for("PIN", 10s, shown_before)) << m_terminal.output();
    m_terminal.type("2468\r");
    const PinReply second = again.get();
    EXPECT_EQ(second.status, PinStatus::entered);
    EXPECT_EQ(as_string_view(second.pin), "2468");
}

TEST_F(PinentryTtyTest, ErrorTextIsShownAboveThePrompt) {
    PinReply reply;
    auto asked = std::async(std::launch::async, [&] {
        return ask_pin(options(), {.title = "trustkey",
                                   .description = "Token ci-token, key releases",
                                   .prompt = "PIN:",
                                   .error = "Wrong PIN, 2 tries left"});
    });
    ASSERT_TRUE(m_terminal.wait_for("PIN:")) << m_terminal.output();
    const std::string& shown = m_terminal.output();
    const auto error_at = shown.find("Wrong PIN, 2 tries left");
    ASSERT_NE(error_at, std::string::npos) << shown;
    EXPECT_LT(error_at, shown.find("Token ci-token, key releases")) << shown;
    m_terminal.type("1111\r");
    reply = asked.get();
    EXPECT_EQ(reply.status, PinStatus::entered);
    EXPECT_EQ(as_string_view(reply.pin), "1111");
}

TEST_F(PinentryTtyTest, ConfirmYesAndNo) {
    PinentrySession session(options());
    session.set_description("Sign with key releases?");
    session.set_ok_button("Yes");
    session.set_cancel_button("No");
    auto yes = std::async(std::launch::async, [&] { return session.confirm(); });
    ASSERT_TRUE(m_terminal.wait_for("[yn]")) << m_terminal.output();
    EXPECT_NE(m_terminal.output().find("Sign with key releases?"), std::string::npos);
    m_terminal.type("y");
    EXPECT_TRUE(yes.get());

    const std::size_t shown_before = m_terminal.output().size();
    auto no = std::async(std::launch::async, [&] { return session.confirm(); });
    ASSERT_TRUE(m_terminal.wait_for("[yn]", 10s, shown_before)) << m_terminal.output();
    m_terminal.type("n");
    EXPECT_FALSE(no.get());
}

TEST_F(PinentryTtyTest, MessageWaitsForAKey) {
    PinentrySession session(options());
    session.set_description("The PIN of token ci-token is locked");
    auto shown = std::async(std::launch::async, [&] { session.message(); });
    ASSERT_TRUE(m_terminal.wait_for("Press any key")) << m_terminal.output();
    EXPECT_NE(m_terminal.output().find("The PIN of token ci-token is locked"), std::string::npos);
    EXPECT_EQ(shown.wait_for(200ms), std::future_status::timeout) << "returned before a key was pressed";
    m_terminal.type("\r");
    shown.get();
}

} // namespace
} // namespace trustkey::pinentry
