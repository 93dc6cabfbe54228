// Locks trustkeyd when the desktop session locks, by following logind on the system bus:
// org.freedesktop.login1.Session.Lock for a session of trustkeyd's own user, and — unless
// turned off — org.freedesktop.login1.Manager.PrepareForSleep(true) before the machine
// sleeps. Either locks as `trustkey lock` and the idle lock do (Daemon::lock_by, a Lock of
// the daemon's own on the work queues), so LockChanged follows on the session bus. Unlock
// signals do nothing: the user unlocks trustkeyd, as with gpg-agent and ssh-agent.
//
// A signal counts only when it comes from the connection that owns org.freedesktop.login1
// now — the sender is compared with the sender of the answer to the Manager's ListSessions,
// which the bus routes to that owner — and a Lock only for a session the same answer gives
// this process's uid. The bus is driven by the daemon's sd-event loop (bus_loop.h): no thread.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <memory>
#include <optional>
#include <string>

#include "daemon/config/config.h"
#include "daemon/dbus/bus_loop.h"
#include "daemon/server/daemon.h"

namespace trustkey::dbus {

inline constexpr const char* kLogindName = "org.freedesktop.login1";
inline constexpr const char* kLogindPath = "/org/freedesktop/login1";
inline constexpr const char* kLogindManager = "org.freedesktop.login1.Manager";
inline constexpr const char* kLogindSession = "org.freedesktop.login1.Session";

class SessionLockWatch {
public:
    struct Options {
        bool on_session_lock = true;
        bool before_sleep = true;
    };

    // Adds the match rules on `bus` (whose org.freedesktop.login1 has an owner) and attaches the
    // bus to the daemon's loop. Throws (sdbus::Error, trustkey::Error) when any of it fails.
    SessionLockWatch(server::Daemon& daemon, std::unique_ptr<sdbus::IConnection> bus, Options options);
    SessionLockWatch(const SessionLockWatch&) = delete;
    SessionLockWatch& operator=(const SessionLockWatch&) = delete;
    ~SessionLockWatch();

private:
    void on_session_lock(sdbus::Message& signal);
    void on_prepare_for_sleep(sdbus::Message& signal);
    // Asks logind for its sessions; when the answer comes from `sender` — and, with a `session`,
    // lists that session under this process's uid — locks for `cause`.
    void check_and_lock(const std::string& sender, std::optional<std::string> session, const std::string& cause);

    server::Daemon& m_daemon;
    std::unique_ptr<sdbus::IConnection> m_bus;  // first made, last closed
    std::unique_ptr<sdbus::IProxy> m_manager;   // org.freedesktop.login1 at /org/freedesktop/login1
    sdbus::Slot m_lock_match;
    sdbus::Slot m_sleep_match;
    std::unique_ptr<BusLoop> m_loop;
    unsigned m_checks_running = 0;  // ListSessions calls not answered yet; bounded
};

// The watch on the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else the standard socket), or null when
// the configuration turns it off, or — with one info line — when there is no system bus or no
// logind on it; trustkeyd runs as before then.
std::unique_ptr<SessionLockWatch> start_session_lock_watch(server::Daemon& daemon,
                                                           const config::Config& config) noexcept;

} // namespace trustkey::dbus
