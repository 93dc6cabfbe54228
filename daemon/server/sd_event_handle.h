// Owners for sd-event objects: the loop (sd_event_unref) and its sources
// (sd_event_source_disable_unref, so a dropped source never fires again).
#pragma once

#include <systemd/sd-event.h>

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

} // namespace trustkey
