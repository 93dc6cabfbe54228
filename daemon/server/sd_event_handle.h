// Owners for sd-event objects: the loop (sd_event_unref) and its sources
// (sd_event_source_disable_unref, so a dropped source never fires again); and the time of
// a steady_clock point on the loop's CLOCK_MONOTONIC timers.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <memory>

namespace trustkey {

struct SdEventUnref {
    void operator()(sd_event* e) const noexcept { sd_event_unref(e); }
};
struct SdEventSourceUnref {
    void operator()(sd_event_source* s) const noexcept { sd_event_source_disable_unref(s); }
};

using UniqueSdEvent = std::unique_ptr<sd_event, SdEventUnref>;
using UniqueSdEventSource = std::unique_ptr<sd_event_source, SdEventSourceUnref>;

// steady_clock is CLOCK_MONOTONIC, the clock of the loop's timers.
inline std::uint64_t usec_of(std::chrono::steady_clock::time_point t) noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

} // namespace trustkey
