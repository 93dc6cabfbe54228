// How the client retries a STATUS_BUSY answer (the daemon at its connection cap,
// or the queue for the key full): bounded exponential backoff with jitter.
#pragma once

#include <chrono>
#include <cstddef>

namespace trustkey::proto {

struct BusyRetry {
    std::size_t attempts = 8;                            // tries in all, the first included
    std::chrono::milliseconds first_delay{10};           // before the second try; doubles each time
    std::chrono::milliseconds max_delay{1000};           // no single wait is longer
    // The wait before try `retry` (1 for the second try): first_delay·2^(retry-1), at most
    // max_delay, scaled by a random factor in [0.5, 1] so that clients refused together do not
    // come back together. The waits add up to less than 1.3 s with the defaults.
    std::chrono::milliseconds delay(std::size_t retry) const;
};

} // namespace trustkey::proto
