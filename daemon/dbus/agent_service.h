// trustkeyd's D-Bus interface: org.trustkey.Agent1 (org.trustkey.Agent1.xml) at
// /org/trustkey/Agent, under the well-known name org.trustkey.Agent on the session bus.
// It tells what the agent holds — the Keys and Backends properties, ListKeys, Status —
// and what it signed (SignatureMade); signing itself stays on the socket. Everything
// runs on the daemon's event loop (bus_loop.h): properties are answered from the
// backends' in-memory key lists, and what needs a token (ListKeys, Status, the
// backends' state) runs as the daemon's own request on its work queues, answered when
// that request completes, as are Lock and Unlock (whose PIN trustkeyd asks through
// pinentry). A token pulled out or put back is TokenRemoved / TokenAdded, and the Backends
// property changes with it.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/dbus/bus_loop.h"
#include "daemon/dbus/org.trustkey.Agent1.adaptor.h"
#include "daemon/server/daemon.h"
#include "daemon/server/reply_observer.h"

namespace trustkey::dbus {

inline constexpr const char* kBusName = "org.trustkey.Agent";
inline constexpr const char* kObjectPath = "/org/trustkey/Agent";
inline constexpr const char* kInterface = "org.trustkey.Agent1";

// (id, name, type, backend)
using KeyTuple = sdbus::Struct<std::string, std::string, std::string, std::string>;
// (name, kind, location, state, token label, serial, key count, error)
using BackendTuple =
    sdbus::Struct<std::string, std::string, std::string, std::string, std::string, std::string, std::uint32_t,
                  std::string>;

namespace detail {
// Holds the connection so it is made before, and closed after, the object on it.
struct BusHolder {
    std::unique_ptr<sdbus::IConnection> bus;
};
} // namespace detail

class AgentService final : private detail::BusHolder,
                           public sdbus::AdaptorInterfaces<org::trustkey::Agent1_adaptor>,
                           public server::ReplyObserver {
public:
    // Registers the object, takes the name and attaches the bus to the daemon's loop.
    // Throws (sdbus::Error, trustkey::Error) when any of it fails.
    AgentService(server::Daemon& daemon, std::unique_ptr<sdbus::IConnection> bus);
    ~AgentService() override;

    // ReplyObserver: on the loop's thread.
    void signature_made(const server::SignatureMade& made) override;
    void keys_changed() override;
    void lock_changed(bool locked) override;
    void token_presence_changed(const server::TokenPresence& change) override;

private:
    using ListKeysResult = sdbus::Result<std::vector<KeyTuple>>;
    using StatusResult = sdbus::Result<std::string, std::uint32_t, std::uint32_t, std::uint64_t, std::vector<BackendTuple>>;

    void ListKeys(ListKeysResult&& result) override;
    void Status(StatusResult&& result) override;
    void Lock(sdbus::Result<>&& result) override;
    void Unlock(sdbus::Result<>&& result) override;
    bool Locked() override;
    std::vector<KeyTuple> Keys() override;
    std::vector<BackendTuple> Backends() override;

    // The keys from the backends' in-memory lists; `complete` false when a backend has none yet.
    std::vector<KeyTuple> cached_keys(bool& complete) const;
    // Compares the keys with what was last announced, and announces a change.
    void announce_keys();
    void announce(std::vector<KeyTuple> keys);
    // Reads the backends' state through the work queues, then announces a change; `then` gets
    // the status reply (also a failed one).
    void refresh_backends(std::function<void(const server::pb::Response&)> then = {});

    // Runs Lock or Unlock through the work queues and answers `result` when it is done.
    void lock_request(server::pb::Request request, sdbus::Result<>&& result);
    // Announces the lock state when it differs from what was last announced.
    void announce_lock();

    // Sends a signal through `emit`, unless the bus was lost; a failure gives the bus up.
    template <class Emit>
    void send(Emit&& emit) noexcept;

    server::Daemon& m_daemon;
    std::unique_ptr<BusLoop> m_loop;
    std::vector<KeyTuple> m_keys;          // as last announced
    std::vector<BackendTuple> m_backends;  // as last read
    bool m_keys_listing = false;           // a ListKeys of our own fills the backends' lists
    bool m_locked = false;                 // as last announced
    // Callbacks of requests still running hold a weak reference: they do nothing once the
    // service is gone.
    std::shared_ptr<AgentService*> m_self;
};

// The service on `mode`'s bus, or null — with one log line saying why — when there is none or
// it cannot be reached; trustkeyd then serves its socket only.
std::unique_ptr<AgentService> start_agent_service(server::Daemon& daemon, config::DbusMode mode) noexcept;

} // namespace trustkey::dbus
