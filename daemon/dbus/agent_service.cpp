#include "daemon/dbus/agent_service.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <string>

#include "lib/core/log.h"
#include "lib/keys/key_type.h"
#include "daemon/server/proto_convert.h"
#include "trustkey/proto/frame.h"

namespace trustkey::dbus {

namespace pb = server::pb;

namespace {

const char* const kErrorFailed = "org.trustkey.Agent1.Error.Failed";

std::string type_name(pb::KeyType type) {
    const auto t = server::from_proto(type);
    return t ? std::string(keys::key_type_name(*t)) : std::string("unknown");
}

// One word for what a backend can do now.
std::string state_of(const pb::TokenStatus& t) {
    if (!t.present()) return "absent";
    if (t.pin_locked()) return "pin_locked";
    if (!t.logged_in()) return "login_needed";
    if (!t.error().empty()) return "error";
    return "ready";
}

std::vector<BackendTuple> backends_of(const pb::StatusReply& status) {
    std::vector<BackendTuple> out;
    for (const auto& t : status.tokens())
        out.emplace_back(t.backend(), t.kind(), t.location(), state_of(t), t.label(), t.serial(), t.key_count(),
                         t.error());
    return out;
}

void sort_keys(std::vector<KeyTuple>& keys) {
    std::sort(keys.begin(), keys.end(), [](const KeyTuple& a, const KeyTuple& b) {
        return std::tie(std::get<3>(a), std::get<1>(a), std::get<0>(a)) <
               std::tie(std::get<3>(b), std::get<1>(b), std::get<0>(b));
    });
}

// The client's program, read while it waits for its reply; empty when it cannot be read.
std::string executable_of(pid_t pid) {
    if (pid <= 0) return {};
    char buf[PATH_MAX];
    const std::string link = "/proc/" + std::to_string(pid) + "/exe";
    const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) return {};
    return std::string(buf, static_cast<std::size_t>(n));
}

// A method's error reply for a failure of trustkeyd's own; a reply that cannot be sent (the bus
// went away) is left, as the caller is gone with it.
template <class Result>
void reply_failed(Result& pending, const std::exception& e) noexcept {
    spdlog::warn("event=dbus_method_failed error={}", log::quoted(e.what()));
    try {
        pending.returnError(sdbus::Error(kErrorFailed, e.what()));
    } catch (...) {
    }
}

std::string failure_text(const pb::Response& r) {
    return r.message().empty() ? std::string(pb::Status_Name(r.status())) : r.message();
}

} // namespace

AgentService::AgentService(server::Daemon& daemon, std::unique_ptr<sdbus::IConnection> bus)
    : BusHolder{std::move(bus)},
      AdaptorInterfaces(*BusHolder::bus, kObjectPath),
      m_daemon(daemon),
      m_self(std::make_shared<AgentService*>(this)) {
    m_locked = m_daemon.locked();
    bool complete = false;
    m_keys = cached_keys(complete);
    registerAdaptor();
    // The object first, then the name: a client that sees the name finds the object.
    BusHolder::bus->requestName(kBusName);
    m_loop = std::make_unique<BusLoop>(m_daemon.event_loop(), *BusHolder::bus);
    m_loop->process();  // what came in during the calls above
    refresh_backends();
    // A backend that has not listed its keys yet does so now, on the work queues.
    if (!complete) announce_keys();
    spdlog::info("event=dbus_ready bus=session name={} path={} interface={} unique_name={}", kBusName, kObjectPath,
                 kInterface, log::quoted(BusHolder::bus->getUniqueName()));
    // Last: the daemon never holds an observer whose construction failed.
    m_daemon.set_reply_observer(this);
}

AgentService::~AgentService() {
    m_daemon.set_reply_observer(nullptr);
    m_loop.reset();
    unregisterAdaptor();
}

std::vector<KeyTuple> AgentService::cached_keys(bool& complete) const {
    complete = true;
    std::vector<KeyTuple> out;
    for (backend::Backend* b : m_daemon.ring().backends()) {
        // In memory only: the loop never waits for a token.
        const auto keys = b->cached_keys();
        if (!keys) {
            complete = false;
            continue;
        }
        for (const backend::KeyPtr& k : *keys)
            out.emplace_back(k->id, k->name, std::string(keys::key_type_name(k->type)), k->backend);
    }
    sort_keys(out);
    return out;
}

void AgentService::announce_keys() {
    bool complete = false;
    std::vector<KeyTuple> now = cached_keys(complete);
    if (!complete && !m_keys_listing) {
        // A backend has no list in memory yet: one ListKeys on the work queues reads it.
        m_keys_listing = true;
        pb::Request request;
        request.mutable_list_keys();
        std::weak_ptr<AgentService*> self = m_self;
        m_daemon.ask(std::move(request), [self](pb::Response) {
            auto s = self.lock();
            if (!s) return;
            (*s)->m_keys_listing = false;
            bool ignored = false;
            (*s)->announce((*s)->cached_keys(ignored));
        });
    }
    announce(std::move(now));
}

template <class Emit>
void AgentService::send(Emit&& emit) noexcept {
    if (m_loop->lost()) return;
    try {
        emit();
    } catch (const std::exception& e) {
        m_loop->give_up(e.what());
        return;
    }
    m_loop->rearm();
}

void AgentService::announce(std::vector<KeyTuple> keys) {
    if (keys == m_keys) return;
    m_keys = std::move(keys);
    send([this] { getObject().emitPropertiesChangedSignal(kInterface, {"Keys"}); });
}

void AgentService::refresh_backends(std::function<void(const pb::Response&)> then) {
    pb::Request request;
    request.mutable_get_status();
    std::weak_ptr<AgentService*> self = m_self;
    m_daemon.ask(std::move(request), [self, then = std::move(then)](pb::Response response) {
        auto s = self.lock();
        if (!s) return;
        AgentService& service = **s;
        if (response.status() == pb::STATUS_OK) {
            std::vector<BackendTuple> now = backends_of(response.get_status());
            if (now != service.m_backends) {
                service.m_backends = std::move(now);
                service.send([&service] { service.getObject().emitPropertiesChangedSignal(kInterface, {"Backends"}); });
            }
        } else {
            spdlog::warn("event=dbus_status_failed error={}", log::quoted(failure_text(response)));
        }
        if (then) then(response);
        service.m_loop->rearm();
    });
}

void AgentService::ListKeys(ListKeysResult&& result) {
    // sdbus::Result moves only; the callback is copied.
    auto pending = std::make_shared<ListKeysResult>(std::move(result));
    std::weak_ptr<AgentService*> self = m_self;
    try {
        pb::Request request;
        request.mutable_list_keys();
        m_daemon.ask(std::move(request), [self, pending](pb::Response response) {
            auto s = self.lock();
            if (!s) return;
            try {
                if (response.status() != pb::STATUS_OK) {
                    pending->returnError(sdbus::Error(kErrorFailed, failure_text(response)));
                } else {
                    std::vector<KeyTuple> keys;
                    for (const auto& k : response.list_keys().keys())
                        keys.emplace_back(k.id(), k.name(), type_name(k.type()), k.backend());
                    sort_keys(keys);
                    pending->returnResults(keys);
                }
            } catch (const std::exception& e) {
                reply_failed(*pending, e);
            }
            (*s)->announce_keys();  // the listing refreshed the backends' lists
            (*s)->m_loop->rearm();
        });
    } catch (const std::exception& e) {
        reply_failed(*pending, e);
    }
}

void AgentService::Status(StatusResult&& result) {
    auto pending = std::make_shared<StatusResult>(std::move(result));
    try {
        refresh_backends([pending](const pb::Response& response) {
            try {
                if (response.status() != pb::STATUS_OK) {
                    pending->returnError(sdbus::Error(kErrorFailed, failure_text(response)));
                    return;
                }
                const pb::StatusReply& st = response.get_status();
                pending->returnResults(st.server(), st.version(), st.connections(), st.uptime_seconds(),
                                       backends_of(st));
            } catch (const std::exception& e) {
                reply_failed(*pending, e);
            }
        });
    } catch (const std::exception& e) {
        reply_failed(*pending, e);
    }
}

std::vector<KeyTuple> AgentService::Keys() {
    // sd-bus lets only sdbus::Error out of a property getter.
    try {
        bool complete = false;
        return cached_keys(complete);
    } catch (const sdbus::Error&) {
        throw;
    } catch (const std::exception& e) {
        throw sdbus::Error(kErrorFailed, e.what());
    }
}

std::vector<BackendTuple> AgentService::Backends() { return m_backends; }

bool AgentService::Locked() { return m_daemon.locked(); }

void AgentService::Lock(sdbus::Result<>&& result) {
    pb::Request request;
    request.mutable_lock();
    lock_request(std::move(request), std::move(result));
}

void AgentService::Unlock(sdbus::Result<>&& result) {
    // No PIN in the request: trustkeyd asks the user through pinentry (lock_state.h).
    pb::Request request;
    request.mutable_unlock();
    lock_request(std::move(request), std::move(result));
}

void AgentService::lock_request(pb::Request request, sdbus::Result<>&& result) {
    auto pending = std::make_shared<sdbus::Result<>>(std::move(result));
    std::weak_ptr<AgentService*> self = m_self;
    try {
        m_daemon.ask(std::move(request), [self, pending](pb::Response response) {
            auto s = self.lock();
            if (!s) return;
            try {
                if (response.status() != pb::STATUS_OK)
                    pending->returnError(sdbus::Error(kErrorFailed, failure_text(response)));
                else
                    pending->returnResults();
            } catch (const std::exception& e) {
                reply_failed(*pending, e);
            }
            (*s)->announce_lock();
            (*s)->refresh_backends();  // logged in or out
            (*s)->m_loop->rearm();
        });
    } catch (const std::exception& e) {
        reply_failed(*pending, e);
    }
}

void AgentService::announce_lock() {
    const bool now = m_daemon.locked();
    if (now == m_locked) return;
    m_locked = now;
    send([this, now] {
        emitLockChanged(now);
        getObject().emitPropertiesChangedSignal(kInterface, {"Locked"});
    });
}

void AgentService::lock_changed(bool) {
    announce_lock();
    refresh_backends();
}

void AgentService::signature_made(const server::SignatureMade& made) {
    send([&] {
        emitSignatureMade(made.key_id, static_cast<std::uint32_t>(made.caller.pid),
                          static_cast<std::uint32_t>(made.caller.uid), executable_of(made.caller.pid),
                          made.digest_prefixes);
    });
}

void AgentService::keys_changed() {
    announce_keys();
    refresh_backends();
}

void AgentService::token_presence_changed(const server::TokenPresence& change) {
    send([&] {
        if (change.present)
            emitTokenAdded(change.backend, change.label, change.serial);
        else
            emitTokenRemoved(change.backend, change.label, change.serial);
    });
    refresh_backends();
    announce_keys();  // a token back may hold other keys
}

std::unique_ptr<AgentService> start_agent_service(server::Daemon& daemon, config::DbusMode mode) noexcept {
    if (mode == config::DbusMode::none) return nullptr;
    try {
        return std::make_unique<AgentService>(daemon, sdbus::createSessionBusConnection());
    } catch (const std::exception& e) {
        spdlog::warn("event=dbus_unavailable bus=session error={}, serving the socket only", log::quoted(e.what()));
        return nullptr;
    }
}

} // namespace trustkey::dbus
