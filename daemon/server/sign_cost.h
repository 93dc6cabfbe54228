// How long one backend's signatures take, per key type, learnt from the signatures it made:
// a running mean in which each new sample moves the estimate an eighth of the way, so one
// slow or quick signature shifts it a little and a lasting change takes over within a few
// dozen. The scheduler reads it to tell a signature short enough to make on the event loop's
// own thread (no hand-over to a worker and back) from one that would hold the loop up.
// Samples come from the loop and from workers; a sample lost to a race only slows learning.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "lib/keys/key_type.h"

namespace trustkey::server {

class SignCost {
public:
    // The expected time of one signature with a key of this type; nullopt before the first sample.
    std::optional<std::chrono::nanoseconds> expected(keys::KeyType type) const noexcept;
    // One signature of this type took `took`.
    void record(keys::KeyType type, std::chrono::nanoseconds took) noexcept;

private:
    static constexpr std::size_t kTypes = static_cast<std::size_t>(keys::KeyType::ed25519) + 1;
    std::array<std::atomic<std::int64_t>, kTypes> m_mean_ns{};  // 0: no sample yet
};

} // namespace trustkey::server
