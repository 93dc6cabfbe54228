// A stand-in for logind on a test's own system bus ($DBUS_SYSTEM_BUS_ADDRESS), made with
// sdbus-c++: it owns a name (org.freedesktop.login1, or another one to play a process that
// only pretends to be logind) and serves what trustkeyd reads of logind — the Manager's
// ListSessions and PrepareForSleep at /org/freedesktop/login1, and each session's object at
// /org/freedesktop/login1/session/<id> with its Id and User properties and its Lock and
// Unlock signals. The test makes it send signals through its control interface
// org.trustkey.test.LogindStandin at /org/freedesktop/login1:
//   EmitLock(s id, b direct)    Lock on the session's object; with `direct`, also a copy sent
//                               to every other connection on the bus by its unique name
//   EmitUnlock(s id)            Unlock on the session's object
//   EmitPrepareForSleep(b start)
//
//   logind_standin --name NAME --session ID:UID [--session ID:UID ...]
// Prints "ready" once it owns the name.
#include <sdbus-c++/sdbus-c++.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr const char* kManagerPath = "/org/freedesktop/login1";
constexpr const char* kManager = "org.freedesktop.login1.Manager";
constexpr const char* kSession = "org.freedesktop.login1.Session";
constexpr const char* kControl = "org.trustkey.test.LogindStandin";

using SessionTuple = sdbus::Struct<std::string, std::uint32_t, std::string, std::string, sdbus::ObjectPath>;

struct Session {
    std::string id;
    std::uint32_t uid = 0;
    std::string path;
    std::unique_ptr<sdbus::IObject> object;
};

int usage() {
    std::cerr << "usage: logind_standin --name NAME --session ID:UID [--session ID:UID ...]\n";
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    std::string name;
    std::map<std::string, Session> sessions;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--name") {
            name = value;
        } else if (flag == "--session") {
            const auto colon = value.find(':');
            if (colon == std::string::npos) return usage();
            Session s;
            s.id = value.substr(0, colon);
            s.uid = static_cast<std::uint32_t>(std::stoul(value.substr(colon + 1)));
            s.path = std::string(kManagerPath) + "/session/" + s.id;
            sessions.emplace(s.id, std::move(s));
        } else {
            return usage();
        }
    }
    if (name.empty() || argc % 2 == 0) return usage();

    try {
        auto bus = sdbus::createSystemBusConnection();
        for (auto& [id, s] : sessions) {
            s.object = sdbus::createObject(*bus, s.path);
            const std::string sid = s.id;
            const sdbus::Struct<std::uint32_t, sdbus::ObjectPath> user{s.uid, sdbus::ObjectPath("/org/freedesktop/login1/user/_" +
                                                                                               std::to_string(s.uid))};
            s.object->registerProperty("Id").onInterface(kSession).withGetter([sid] { return sid; });
            s.object->registerProperty("User").onInterface(kSession).withGetter([user] { return user; });
            s.object->registerSignal("Lock").onInterface(kSession);
            s.object->registerSignal("Unlock").onInterface(kSession);
            s.object->finishRegistration();
        }

        auto manager = sdbus::createObject(*bus, kManagerPath);
        auto driver = sdbus::createProxy(*bus, "org.freedesktop.DBus", "/org/freedesktop/DBus");
        manager->registerMethod("ListSessions").onInterface(kManager).withOutputParamNames("sessions").implementedAs([&] {
            std::vector<SessionTuple> out;
            for (const auto& [id, s] : sessions)
                out.emplace_back(s.id, s.uid, "user" + std::to_string(s.uid), "seat0", sdbus::ObjectPath(s.path));
            return out;
        });
        manager->registerSignal("PrepareForSleep").onInterface(kManager).withParameters<bool>("start");
        auto session_of = [&](const std::string& id) -> Session& {
            auto it = sessions.find(id);
            if (it == sessions.end()) throw sdbus::Error("org.trustkey.test.Error.NoSuchSession", "no session " + id);
            return it->second;
        };
        manager->registerMethod("EmitLock").onInterface(kControl).withInputParamNames("id", "direct").implementedAs(
            [&](const std::string& id, bool direct) {
                Session& s = session_of(id);
                s.object->emitSignal("Lock").onInterface(kSession);
                if (!direct) return;
                std::vector<std::string> names;
                driver->callMethod("ListNames").onInterface("org.freedesktop.DBus").storeResultsTo(names);
                const std::string self = bus->getUniqueName();
                for (const std::string& n : names) {
                    if (n.empty() || n[0] != ':' || n == self) continue;
                    sdbus::Signal signal = s.object->createSignal(kSession, "Lock");
                    signal.setDestination(n);
                    s.object->emitSignal(signal);
                }
            });
        manager->registerMethod("EmitUnlock").onInterface(kControl).withInputParamNames("id").implementedAs(
            [&](const std::string& id) { session_of(id).object->emitSignal("Unlock").onInterface(kSession); });
        manager->registerMethod("EmitPrepareForSleep").onInterface(kControl).withInputParamNames("start").implementedAs(
            [&](bool start) { manager->emitSignal("PrepareForSleep").onInterface(kManager).withArguments(start); });
        manager->finishRegistration();

        bus->requestName(name);
        std::cout << "ready " << bus->getUniqueName() << std::endl;
        bus->enterEventLoop();
    } catch (const std::exception& e) {
        std::cerr << "logind_standin: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
