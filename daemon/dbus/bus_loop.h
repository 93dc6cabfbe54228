// Drives an sdbus-c++ bus connection from trustkeyd's sd-event loop, with no thread of
// its own: an io source on the bus's descriptor and a timer at the bus's next timeout,
// both taken from IConnection::getEventLoopPollData(); each wake-up processes what is
// pending with processPendingRequest(), so every method call and property read runs
// on the loop's thread. A bus that fails (the bus daemon went away) is logged once and
// left alone; trustkeyd goes on serving its socket.
#pragma once

#include <sdbus-c++/IConnection.h>

#include <cstdint>
#include <string>

#include "daemon/server/sd_event_handle.h"

namespace trustkey::dbus {

class BusLoop {
public:
    // Throws trustkey::Error when the sources cannot be added. `when_lost` ends the log line of
    // a lost bus: what trustkeyd does without it.
    BusLoop(sd_event* loop, sdbus::IConnection& bus, std::string when_lost = "serving the socket only");
    BusLoop(const BusLoop&) = delete;
    BusLoop& operator=(const BusLoop&) = delete;

    // Processes everything the bus has pending, then watches for what it waits on next.
    void process() noexcept;
    // After a message was sent outside the bus's own callbacks: watches for what the bus
    // waits on now (writing out a queued message, a reply's timeout).
    void rearm() noexcept;
    bool lost() const noexcept { return m_lost; }
    // Sending failed: the bus is given up like one that failed while processing.
    void give_up(const char* error) noexcept;

private:
    static int on_io(sd_event_source* s, int fd, std::uint32_t revents, void* self) noexcept;
    static int on_timer(sd_event_source* s, std::uint64_t usec, void* self) noexcept;

    sdbus::IConnection& m_bus;
    std::string m_when_lost;
    UniqueSdEventSource m_io;
    UniqueSdEventSource m_timer;
    bool m_processing = false;
    bool m_lost = false;
};

} // namespace trustkey::dbus
