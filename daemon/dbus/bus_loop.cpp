#include "daemon/dbus/bus_loop.h"

#include <poll.h>
#include <sys/epoll.h>

#include <limits>
#include <utility>

#include "lib/core/error.h"
#include "lib/core/log.h"

namespace trustkey::dbus {

BusLoop::BusLoop(sd_event* loop, sdbus::IConnection& bus, std::string when_lost)
    : m_bus(bus), m_when_lost(std::move(when_lost)) {
    const sdbus::IConnection::PollData poll = m_bus.getEventLoopPollData();
    sd_event_source* s = nullptr;
    if (const int rc = sd_event_add_io(loop, &s, poll.fd, EPOLLIN, &BusLoop::on_io, this); rc < 0)
        throw_errno("sd_event_add_io", -rc);
    m_io.reset(s);
    if (const int rc = sd_event_add_time(loop, &s, CLOCK_MONOTONIC, 0, 0, &BusLoop::on_timer, this); rc < 0)
        throw_errno("sd_event_add_time", -rc);
    m_timer.reset(s);
    sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

int BusLoop::on_io(sd_event_source*, int, std::uint32_t, void* self) noexcept {
    static_cast<BusLoop*>(self)->process();
    return 0;
}

int BusLoop::on_timer(sd_event_source*, std::uint64_t, void* self) noexcept {
    static_cast<BusLoop*>(self)->process();
    return 0;
}

void BusLoop::process() noexcept {
    // A method handler may send a reply, and then rearm(): that must not process again.
    if (m_lost || m_processing) return;
    m_processing = true;
    try {
        while (m_bus.processPendingRequest()) {
        }
    } catch (const std::exception& e) {
        m_processing = false;
        give_up(e.what());
        return;
    }
    m_processing = false;
    rearm();
}

void BusLoop::rearm() noexcept {
    if (m_lost) return;
    try {
        const sdbus::IConnection::PollData poll = m_bus.getEventLoopPollData();
        // poll(2) and epoll share the bit values of IN and OUT.
        std::uint32_t events = 0;
        if (poll.events & POLLIN) events |= EPOLLIN;
        if (poll.events & POLLOUT) events |= EPOLLOUT;
        sd_event_source_set_io_events(m_io.get(), events);
        if (poll.timeout_usec == std::numeric_limits<std::uint64_t>::max()) {
            sd_event_source_set_enabled(m_timer.get(), SD_EVENT_OFF);
        } else {
            // An absolute CLOCK_MONOTONIC time; 0 (or any time past) fires on the next pass.
            sd_event_source_set_time(m_timer.get(), poll.timeout_usec);
            sd_event_source_set_enabled(m_timer.get(), SD_EVENT_ONESHOT);
        }
    } catch (const std::exception& e) {
        give_up(e.what());
    }
}

void BusLoop::give_up(const char* error) noexcept {
    if (m_lost) return;
    try {
        spdlog::warn("event=dbus_lost error={}, {}", log::quoted(error), m_when_lost);
    } catch (...) {
    }
    m_lost = true;
    m_io.reset();
    m_timer.reset();
}

} // namespace trustkey::dbus
