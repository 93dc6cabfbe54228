// Many protocol clients at once, for load tests of the real trustkeyd: raw
// non-blocking Unix sockets driven by one epoll loop in the test process, framing
// and messages by agent-proto's codec only (no daemon code, no Client class).
//
// Every client connects and finishes its Hello before any of them signs, so all
// connections are open at the same time. Then client i sends its signatures with
// keys[i % keys.size()], `pipeline_depth` requests in flight, each over fresh random
// data (a 32-byte digest, or a message for Ed25519), with request ids unique over
// the whole run ((i+1) << 32 | request number). The run is bounded by `deadline`.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "trustkey/proto/codec.h"

namespace trustkey::test {

struct LoadKey {
    std::string id;  // full key id
    proto::pb::KeyType type = proto::pb::KEY_TYPE_UNSPECIFIED;
};

struct LoadPlan {
    std::filesystem::path socket;
    std::size_t clients = 200;
    std::size_t signatures_per_client = 20;
    std::size_t pipeline_depth = 1;
    std::vector<LoadKey> keys;
    std::chrono::seconds deadline{120};
};

// One signature request and what came back for it.
struct LoadRequest {
    std::uint64_t id = 0;
    std::vector<std::uint8_t> data;  // digest (or message) signed
    bool answered = false;
    proto::pb::Status status = proto::pb::STATUS_OK;
    std::string signature;
    std::string key_id;  // as the reply named it
};

struct LoadClient {
    std::size_t key = 0;  // index into LoadPlan::keys
    std::vector<LoadRequest> requests;
};

struct LoadReport {
    std::vector<LoadClient> clients;
    std::size_t negotiated = 0;        // clients whose Hello was answered
    std::size_t open_at_start = 0;     // connections open when signing started
    std::size_t answered_ok = 0;
    std::size_t answered_failed = 0;   // answered with another status
    std::map<std::string, std::size_t> failed_statuses;  // status name -> count
    std::size_t wrong_id = 0;          // replies whose id was not the one expected next
    std::size_t unanswered = 0;        // requests never answered (connection lost or deadline)
    std::size_t connections_lost = 0;  // closed by the daemon before their last reply
    bool deadline_passed = false;
    double connect_seconds = 0;        // until every Hello was answered
    double sign_seconds = 0;           // from the first sign request to the last reply
    double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;
    std::vector<std::string> problems;  // the first few, one line each

    std::size_t requests() const;
    // One paragraph: counts, times and the first problems.
    std::string summary() const;
};

// Runs the plan against the daemon listening on plan.socket. Never throws for what
// the daemon does; throws std::runtime_error when the test process itself cannot
// make sockets or an epoll instance.
LoadReport run_load(const LoadPlan& plan);

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit (children inherit
// it); returns the new soft limit.
std::size_t raise_open_file_limit();

} // namespace trustkey::test
