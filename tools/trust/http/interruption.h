// Ctrl-C during network work. While an InterruptWatch lives, SIGINT only sets a flag;
// every transfer of http::Client then stops at once (libcurl's progress callback
// aborts it) and fails with Interrupted, so the caller unwinds, cleans up and says
// "interrupted" instead of dying half-way. An InterruptShield lets the clean-up's
// own requests run although an interrupt is pending.
#pragma once

#include <csignal>
#include <stdexcept>
#include <string>

namespace trustkey::http {

// A transfer stopped because the user interrupted it (SIGINT).
class Interrupted : public std::runtime_error {
public:
    explicit Interrupted(const std::string& what) : std::runtime_error(what) {}
};

// Routes SIGINT to the flag for its lifetime, then restores the previous handler.
// Not nestable across threads; one per command.
class InterruptWatch {
public:
    InterruptWatch();
    InterruptWatch(const InterruptWatch&) = delete;
    InterruptWatch& operator=(const InterruptWatch&) = delete;
    ~InterruptWatch();

private:
    struct sigaction m_old {};
};

// Whether SIGINT arrived under an InterruptWatch and no InterruptShield is active.
bool interrupt_pending() noexcept;

// Transfers are not stopped by a pending interrupt while one lives (nestable).
class InterruptShield {
public:
    InterruptShield() noexcept;
    InterruptShield(const InterruptShield&) = delete;
    InterruptShield& operator=(const InterruptShield&) = delete;
    ~InterruptShield();
};

} // namespace trustkey::http
