#include "daemon/dbus/session_lock_watch.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <utility>
#include <vector>

#include "lib/core/log.h"

namespace trustkey::dbus {

namespace {

// (id, uid, user name, seat, object path), as ListSessions answers.
using SessionTuple = sdbus::Struct<std::string, std::uint32_t, std::string, std::string, sdbus::ObjectPath>;

constexpr std::uint64_t kCallTimeoutUsec = 5'000'000;
// Where the system bus listens when DBUS_SYSTEM_BUS_ADDRESS does not say (sd-bus's default).
constexpr const char* kStandardSystemBusSocket = "/run/dbus/system_bus_socket";
// More checks than this waiting for logind: further signals are dropped (a flood of them).
constexpr unsigned kMaxChecksRunning = 16;

std::string match_rule(const char* interface, const char* member, const char* path = nullptr) {
    std::string rule = std::string("type='signal',sender='") + kLogindName + "',interface='" + interface +
                       "',member='" + member + "'";
    if (path) rule += std::string(",path='") + path + "'";
    return rule;
}

} // namespace

SessionLockWatch::SessionLockWatch(server::Daemon& daemon, std::unique_ptr<sdbus::IConnection> bus, Options options)
    : m_daemon(daemon), m_bus(std::move(bus)), m_manager(sdbus::createProxy(*m_bus, kLogindName, kLogindPath)) {
    // The bus daemon delivers these to us from the owner of logind's name only, but a signal
    // sent to us directly passes any rule: check_and_lock() checks the sender itself.
    if (options.on_session_lock)
        m_lock_match = m_bus->addMatch(match_rule(kLogindSession, "Lock"),
                                       [this](sdbus::Message& m) { on_session_lock(m); });
    if (options.before_sleep)
        m_sleep_match = m_bus->addMatch(match_rule(kLogindManager, "PrepareForSleep", kLogindPath),
                                        [this](sdbus::Message& m) { on_prepare_for_sleep(m); });
    m_loop = std::make_unique<BusLoop>(m_daemon.event_loop(), *m_bus, "no longer following logind (bus=system)");
    m_loop->process();  // what came in during the calls above
    spdlog::info("event=session_lock_watch bus=system lock_on_session_lock={} lock_before_sleep={}",
                 options.on_session_lock, options.before_sleep);
}

SessionLockWatch::~SessionLockWatch() {
    m_loop.reset();
    m_lock_match.reset();
    m_sleep_match.reset();
    m_manager.reset();
}

void SessionLockWatch::on_session_lock(sdbus::Message& signal) {
    if (signal.getInterfaceName() != kLogindSession || signal.getMemberName() != "Lock") return;
    check_and_lock(signal.getSender(), signal.getPath(), "session");
}

void SessionLockWatch::on_prepare_for_sleep(sdbus::Message& signal) {
    if (signal.getInterfaceName() != kLogindManager || signal.getMemberName() != "PrepareForSleep") return;
    bool starting = false;
    try {
        signal >> starting;
    } catch (const sdbus::Error& e) {
        spdlog::warn("event=session_lock_ignored reason=bad_signal sender={} error={}",
                     log::quoted(signal.getSender()), log::quoted(e.what()));
        return;
    }
    if (starting) check_and_lock(signal.getSender(), std::nullopt, "sleep");  // not on the way back
}

void SessionLockWatch::check_and_lock(const std::string& sender, std::optional<std::string> session,
                                      const std::string& cause) {
    if (m_checks_running >= kMaxChecksRunning) {
        spdlog::warn("event=session_lock_ignored reason=too_many sender={}", log::quoted(sender));
        return;
    }
    try {
        sdbus::MethodCall call = m_manager->createMethodCall(kLogindManager, "ListSessions");
        auto done = [this, sender, session = std::move(session), cause](sdbus::MethodReply& reply,
                                                                        const sdbus::Error* error) {
            --m_checks_running;
            if (error) {
                spdlog::warn("event=session_lock_check_failed cause={} error={}", cause, log::quoted(error->what()));
                return;
            }
            // The bus routed the call to the name's owner: the answer's sender is logind.
            if (reply.getSender() != sender) {
                spdlog::warn("event=session_lock_ignored reason=not_logind cause={} sender={}", cause,
                             log::quoted(sender));
                return;
            }
            if (session) {
                std::vector<SessionTuple> sessions;
                try {
                    reply >> sessions;
                } catch (const sdbus::Error& e) {
                    spdlog::warn("event=session_lock_check_failed cause={} error={}", cause, log::quoted(e.what()));
                    return;
                }
                const SessionTuple* found = nullptr;
                for (const SessionTuple& s : sessions)
                    if (std::string(s.get<4>()) == *session) found = &s;
                if (!found) {
                    spdlog::info("event=session_lock_ignored reason=unknown_session session={}", log::quoted(*session));
                    return;
                }
                if (found->get<1>() != ::getuid()) {
                    spdlog::info("event=session_lock_ignored reason=other_user session={} uid={}",
                                 log::quoted(*session), found->get<1>());
                    return;
                }
                spdlog::info("event=session_lock session={} id={}", log::quoted(*session), log::quoted(found->get<0>()));
            } else {
                spdlog::info("event=sleep_lock");
            }
            m_daemon.lock_by(cause);
        };
        (void)m_manager->callMethod(call, std::move(done), kCallTimeoutUsec);
        ++m_checks_running;  // the answer comes on a later pass of the loop
    } catch (const std::exception& e) {
        spdlog::warn("event=session_lock_check_failed cause={} error={}", cause, log::quoted(e.what()));
    }
}

std::unique_ptr<SessionLockWatch> start_session_lock_watch(server::Daemon& daemon,
                                                           const config::Config& config) noexcept {
    const SessionLockWatch::Options options{config.lock_on_session_lock, config.lock_before_sleep};
    if (!options.on_session_lock && !options.before_sleep) return nullptr;
    try {
        // Where no system bus was given and none listens at the standard place, sd-bus is not
        // even asked: nothing of the bus code is paged in for a daemon that cannot use it.
        if (std::getenv("DBUS_SYSTEM_BUS_ADDRESS") == nullptr) {
            std::error_code ec;
            if (!std::filesystem::exists(kStandardSystemBusSocket, ec)) {
                spdlog::info("event=session_lock_watch_off reason=no_system_bus "
                             "error=\"DBUS_SYSTEM_BUS_ADDRESS unset and no system bus socket at its standard place\"");
                return nullptr;
            }
        }
        std::unique_ptr<sdbus::IConnection> bus;
        try {
            bus = sdbus::createSystemBusConnection();
        } catch (const std::exception& e) {
            spdlog::info("event=session_lock_watch_off reason=no_system_bus error={}", log::quoted(e.what()));
            return nullptr;
        }
        // Whether logind is there, asked once (bounded) before the loop runs.
        {
            auto bus_driver = sdbus::createProxy(*bus, "org.freedesktop.DBus", "/org/freedesktop/DBus");
            sdbus::MethodCall call = bus_driver->createMethodCall("org.freedesktop.DBus", "NameHasOwner");
            call << std::string(kLogindName);
            sdbus::MethodReply reply = bus_driver->callMethod(call, kCallTimeoutUsec);
            bool has_owner = false;
            reply >> has_owner;
            if (!has_owner) {
                spdlog::info("event=session_lock_watch_off reason=no_logind");
                return nullptr;
            }
        }
        return std::make_unique<SessionLockWatch>(daemon, std::move(bus), options);
    } catch (const std::exception& e) {
        spdlog::info("event=session_lock_watch_off reason=failed error={}", log::quoted(e.what()));
        return nullptr;
    }
}

} // namespace trustkey::dbus
