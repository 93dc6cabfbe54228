#include "tools/trust/http/interruption.h"

#include <signal.h>

#include <atomic>

namespace trustkey::http {

namespace {

volatile sig_atomic_t g_interrupted = 0;
std::atomic<int> g_shields{0};

extern "C" void note_transfer_interrupt(int) { g_interrupted = 1; }

} // namespace

InterruptWatch::InterruptWatch() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = note_transfer_interrupt;
    sigemptyset(&sa.sa_mask);
    // Calls to trustkeyd go on; the next network transfer notices the flag.
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, &m_old);
}

InterruptWatch::~InterruptWatch() { ::sigaction(SIGINT, &m_old, nullptr); }

bool interrupt_pending() noexcept { return g_interrupted != 0 && g_shields.load() == 0; }

InterruptShield::InterruptShield() noexcept { ++g_shields; }

InterruptShield::~InterruptShield() { --g_shields; }

} // namespace trustkey::http
