#include "daemon/server/daemon.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/backend/tpm2/tpm2_config.h"
#include "lib/core/error.h"
#include "lib/core/log.h"
#include "daemon/server/peer_credentials.h"
#include "daemon/server/service_notify.h"
#include "daemon/server/pinentry_asker.h"
#include "daemon/server/use_confirmer.h"

namespace trustkey::server {

namespace {

constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGHUP};
// Out of descriptors: how long the listener rests before it is tried again.
constexpr std::uint64_t kAcceptRetryUsec = 250 * 1000;

const char* signal_name(std::uint32_t signo) noexcept {
    switch (signo) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    default: return "unknown";
    }
}

void check(int rc, const char* call) {
    if (rc < 0) throw_errno(call, -rc);
}

void drain_eventfd(int fd) noexcept {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof count);
}

} // namespace

void Daemon::block_stop_signals() {
    sigset_t set;
    ::sigemptyset(&set);
    for (int s : kStopSignals) ::sigaddset(&set, s);
    if (const int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) throw_errno("pthread_sigmask", rc);
    ::signal(SIGPIPE, SIG_IGN);
}

void Daemon::raise_open_files_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    const rlim_t before = lim.rlim_cur;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) lim.rlim_cur = before;
    }
    spdlog::info("event=open_files_limit soft_before={} soft={} hard={}", before, lim.rlim_cur, lim.rlim_max);
}

Daemon::Daemon(const config::Config& config, const std::filesystem::path& socket_path,
               std::optional<Listener> inherited)
    : m_socket_path(inherited ? inherited->path() : socket_path),
      m_max_connections(config.max_connections),
      m_allow_root(config.allow_root) {
    m_connection_options.frame_timeout = std::chrono::seconds(config.frame_timeout_seconds);
    m_connection_options.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
    m_wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!m_wake) throw_errno("eventfd", errno);
    m_completions = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!m_completions) throw_errno("eventfd", errno);

    // The socket first: a second daemon must stop before it touches any token.
    if (inherited) {
        if (m_socket_path != socket_path)
            spdlog::warn("event=inherited_socket socket={} configured={} reason=\"serving the service manager's "
                         "socket; clients using the configured path will not reach it\"",
                         log::quoted(m_socket_path.string()), log::quoted(socket_path.string()));
        m_listener.emplace(std::move(*inherited));
    } else {
        m_listener.emplace(Listener::open(m_socket_path));
    }
    for (auto pc : config::backends_to_open(config)) {
        spdlog::info("event=backend_open backend={} module={} token={}", log::quoted(pc.name),
                     log::quoted(pc.module.string()), log::quoted(pc.token_uri));
        // A token with no PIN source asks the user through pinentry, unless that is off.
        if (pc.pin.kind == backend::pkcs11::PinSource::Kind::none && config.pinentry != "none") {
            pc.ask_pin = make_pinentry_asker(config.pinentry, std::chrono::seconds(config.pinentry_timeout_seconds));
            pc.pin_cache = std::chrono::seconds(config.pin_cache_seconds);
        }
        m_ring.add(backend::pkcs11::make_pkcs11_backend(pc));
    }
    for (const auto& tc : config.tpm) {
        spdlog::info("event=backend_open backend={} tcti={} state_dir={}", log::quoted(tc.name), log::quoted(tc.tcti),
                     log::quoted(tc.state_dir.string()));
        m_ring.add(backend::tpm2::make_tpm2_backend(tc));
        // An unreachable TPM does not stop the daemon: it serves the other backends.
        const backend::BackendStatus st = m_ring.backend(tc.name).status();
        if (!st.present)
            spdlog::warn("event=backend_down backend={} error={}, serving the other backends", log::quoted(tc.name),
                         log::quoted(st.error));
    }
    Dispatcher::Options dopt;
    dopt.max_frame = m_connection_options.max_frame;
    dopt.connection_count = [this] { return m_active.load(); };
    dopt.dropped_requests = [this] { return m_scheduler ? m_scheduler->dropped() : 0; };
    dopt.stop = [this](const Caller& caller) { request_stop(caller); };
    dopt.idle_lock = std::chrono::seconds(config.idle_lock_seconds);
    m_idle_lock_after = dopt.idle_lock;
    m_constraints = KeyConstraints(config.key_constraints);
    dopt.constraints = &m_constraints;
    if (m_constraints.any_confirm())
        dopt.confirm =
            make_pinentry_confirmer(config.pinentry, std::chrono::seconds(config.pinentry_timeout_seconds));
    m_dispatcher = std::make_unique<Dispatcher>(m_ring, std::move(dopt));
    // An unlock without a PIN asks the user through pinentry, as a token without a PIN source does.
    if (config.pinentry != "none")
        m_dispatcher->lock_state().set_asker(
            make_pinentry_asker(config.pinentry, std::chrono::seconds(config.pinentry_timeout_seconds)));
    Scheduler::Options sopt;
    sopt.max_queued = config.max_queued_requests;
    sopt.batch_chunk = config.batch_chunk;
    sopt.general_workers = config.general_workers;
    const int completions_fd = m_completions.get();
    m_scheduler = std::make_unique<Scheduler>(m_ring, *m_dispatcher, sopt, [completions_fd] {
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t n = ::write(completions_fd, &one, sizeof one);
    });

    sd_event* event = nullptr;
    check(sd_event_new(&event), "sd_event_new");
    m_event.reset(event);
    sd_event_source* s = nullptr;
    for (int signo : kStopSignals) {
        check(sd_event_add_signal(event, &s, signo, &Daemon::on_signal, this), "sd_event_add_signal");
        m_sources.emplace_back(s);
    }
    check(sd_event_add_io(event, &s, m_wake.get(), EPOLLIN, &Daemon::on_wake, this), "sd_event_add_io");
    m_sources.emplace_back(s);
    check(sd_event_add_io(event, &s, m_completions.get(), EPOLLIN, &Daemon::on_completions, this), "sd_event_add_io");
    m_sources.emplace_back(s);
    // Completions first, so a finished request frees its connection before new ones are read.
    sd_event_source_set_priority(m_sources.back().get(), SD_EVENT_PRIORITY_IMPORTANT);
    check(sd_event_add_io(event, &s, m_listener->fd(), EPOLLIN, &Daemon::on_accept, this), "sd_event_add_io");
    m_accept_source.reset(s);
    check(sd_event_add_time(event, &s, CLOCK_MONOTONIC, 0, 0, &Daemon::on_accept_retry, this), "sd_event_add_time");
    m_accept_retry.reset(s);
    sd_event_source_set_enabled(s, SD_EVENT_OFF);
    if (m_idle_lock_after.count() > 0) {
        const auto first = std::chrono::steady_clock::now() + m_idle_lock_after;
        check(sd_event_add_time(event, &s, CLOCK_MONOTONIC, usec_of(first), 1000000, &Daemon::on_idle_lock, this),
              "sd_event_add_time");
        m_idle_lock.reset(s);
    }
    if (m_constraints.any_lifetime())
        m_login_lifetime = std::make_unique<LoginLifetime>(event, m_ring, m_constraints, *m_scheduler);
    m_token_poll_every = std::chrono::seconds(config.token_poll_seconds);
    if (m_token_poll_every.count() > 0) {
        const auto first = std::chrono::steady_clock::now() + m_token_poll_every;
        check(sd_event_add_time(event, &s, CLOCK_MONOTONIC, usec_of(first), 0, &Daemon::on_token_poll, this),
              "sd_event_add_time");
        m_token_poll.reset(s);
    }
    check(sd_event_add_defer(event, &s, &Daemon::on_reap, this), "sd_event_add_defer");
    m_reap.reset(s);
    sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

Daemon::~Daemon() {
    shut_down_connections();
    m_scheduler.reset();
    m_listener.reset();
}

void Daemon::request_stop() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(m_wake.get(), &one, sizeof one);
}

void Daemon::request_stop(const Caller& caller) {
    {
        std::lock_guard lock(m_stop_mutex);
        if (m_stop_reason.empty())
            m_stop_reason = fmt::format("reason=stop_request caller_uid={} caller_pid={}", caller.uid, caller.pid);
    }
    request_stop();
}

void Daemon::run() {
    spdlog::info("event=listening socket={} inherited={} max_connections={} allow_root={} idle_timeout={}s "
                 "frame_timeout={}s",
                 log::quoted(m_socket_path.string()), m_listener->inherited(), m_max_connections, m_allow_root,
                 std::chrono::duration_cast<std::chrono::seconds>(m_connection_options.idle_timeout).count(),
                 std::chrono::duration_cast<std::chrono::seconds>(m_connection_options.frame_timeout).count());
    notify_ready(fmt::format("serving on {}", m_socket_path.string()));
    check(sd_event_loop(m_event.get()), "sd_event_loop");
    m_accept_source.reset();
    m_listener.reset();  // stop accepting and remove the socket (not an inherited one)
    shut_down_connections();
    m_scheduler.reset();  // joins the workers once their current requests end
    spdlog::info("event=stopped");
}

void Daemon::stop_loop(const std::string& cause) {
    if (m_stopping) return;
    m_stopping = true;
    spdlog::info("event=stop {}", cause);
    notify_stopping("stopping");
    sd_event_exit(m_event.get(), 0);
}

int Daemon::on_signal(sd_event_source*, const struct signalfd_siginfo* info, void* self) noexcept {
    auto* d = static_cast<Daemon*>(self);
    try {
        d->stop_loop(fmt::format("reason=signal signal={}", signal_name(info->ssi_signo)));
    } catch (...) {
        sd_event_exit(d->m_event.get(), 0);
    }
    return 0;
}

int Daemon::on_wake(sd_event_source*, int fd, std::uint32_t, void* self) noexcept {
    auto* d = static_cast<Daemon*>(self);
    drain_eventfd(fd);
    try {
        std::string reason;
        {
            std::lock_guard lock(d->m_stop_mutex);
            reason = d->m_stop_reason.empty() ? "reason=request" : d->m_stop_reason;
        }
        d->stop_loop(reason);
    } catch (...) {
        sd_event_exit(d->m_event.get(), 0);
    }
    return 0;
}

int Daemon::on_completions(sd_event_source*, int fd, std::uint32_t, void* self) noexcept {
    auto* d = static_cast<Daemon*>(self);
    drain_eventfd(fd);
    for (auto& c : d->m_scheduler->take_completions()) {
        if (c.then) {
            try {
                c.then();
            } catch (const std::exception& e) {
                spdlog::error("event=internal_task_error error={}", log::quoted(e.what()));
            }
            continue;
        }
        if (auto asked = d->m_asked.find(c.connection); asked != d->m_asked.end()) {
            auto done = std::move(asked->second);
            d->m_asked.erase(asked);
            try {
                done(std::move(c.response));
            } catch (const std::exception& e) {
                spdlog::error("event=internal_request_error error={}", log::quoted(e.what()));
            }
            continue;
        }
        auto it = d->m_connections.find(c.connection);
        if (it == d->m_connections.end()) continue;  // its client went away meanwhile
        try {
            it->second->complete(std::move(c));
        } catch (const std::exception& e) {
            spdlog::error("event=connection_error error={}", log::quoted(e.what()));
            it->second->shut_down();
        }
    }
    return 0;
}

int Daemon::on_accept(sd_event_source*, int, std::uint32_t, void* self) noexcept {
    auto* d = static_cast<Daemon*>(self);
    try {
        d->accept_pending();
    } catch (const std::exception& e) {
        spdlog::error("event=accept_error error={}", log::quoted(e.what()));
    }
    return 0;
}

int Daemon::on_accept_retry(sd_event_source*, std::uint64_t, void* self) noexcept {
    static_cast<Daemon*>(self)->resume_accepting();
    return 0;
}

int Daemon::on_idle_lock(sd_event_source* s, std::uint64_t, void* self) noexcept {
    auto* d = static_cast<Daemon*>(self);
    LockState& lock = d->m_dispatcher->lock_state();
    const auto now = std::chrono::steady_clock::now();
    auto next = lock.last_use() + d->m_idle_lock_after;
    if (!lock.locked() && now >= next) {
        spdlog::info("event=idle_lock idle_lock_seconds={}", d->m_idle_lock_after.count());
        d->lock_by("idle");
        next = now + d->m_idle_lock_after;
    } else if (lock.locked()) {
        next = now + d->m_idle_lock_after;  // after an unlock the time counts from its use
    }
    sd_event_source_set_time(s, usec_of(next));
    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
    return 0;
}

int Daemon::on_reap(sd_event_source*, void* self) noexcept {
    auto* d = static_cast<Daemon*>(self);
    d->m_closed.clear();
    sd_event_source_set_enabled(d->m_reap.get(), SD_EVENT_OFF);
    return 0;
}

void Daemon::lock_by(const std::string& cause) {
    // A Lock of the daemon's own, on the work queues: logging out waits for the tokens'
    // operations in flight (a PIN prompt among them), which the loop must not.
    try {
        pb::Request request;
        request.mutable_lock();
        ask(std::move(request), [this, cause](pb::Response response) {
            if (response.status() != pb::STATUS_OK) {
                spdlog::error("event=lock_failed cause={} error={}", cause, log::quoted(response.message()));
                return;
            }
            if (ReplyObserver* observer = m_connection_options.observer) observer->lock_changed(true);
        });
    } catch (const std::exception& e) {
        spdlog::error("event=lock_failed cause={} error={}", cause, log::quoted(e.what()));
    }
}

void Daemon::ask(pb::Request request, std::function<void(pb::Response)> done) {
    // An owner id of its own (from the connections' sequence), as the scheduler runs one
    // request per owner at a time.
    const std::uint64_t owner = m_next_id++;
    request.set_id(owner);
    Session session;
    session.negotiated = true;
    session.version = proto::kProtocolVersion;
    const Caller self{::getpid(), ::geteuid(), ::getegid()};
    Scheduler::Submitted submitted = m_scheduler->submit(owner, self, session, std::move(request));
    switch (submitted.outcome) {
    case Scheduler::Submitted::Outcome::queued: m_asked.emplace(owner, std::move(done)); return;
    case Scheduler::Submitted::Outcome::answered: done(std::move(submitted.response)); return;
    case Scheduler::Submitted::Outcome::busy: break;
    }
    pb::Response busy;
    busy.set_id(owner);
    busy.set_status(pb::STATUS_BUSY);
    busy.set_message("trustkeyd's queue is full; retry later");
    done(std::move(busy));
}

void Daemon::accept_pending() {
    // A bounded number per wake-up, so the connections already open get their turn.
    for (int n = 0; n < 64 && !m_accept_paused && m_listener; ++n) {
        int error = 0;
        UniqueFd fd = m_listener->accept(error);
        if (!fd) {
            if (error != 0) {
                log_limited(m_accept_warnings, spdlog::level::warn,
                            fmt::format("event=accept_failed error={} connections={}",
                                        log::quoted(std::strerror(error)), m_connections.size()));
                // Out of descriptors or memory: the pending connection stays in the backlog, so
                // watching the listener now would only spin.
                pause_accepting();
            }
            return;
        }
        Caller caller;
        try {
            caller = read_peer_credentials(fd.get());
        } catch (const Error& e) {
            log_limited(m_refused_warnings, spdlog::level::warn,
                        fmt::format("event=peer_refused reason={}", log::quoted(e.what())));
            continue;
        }
        if (!caller_allowed(caller, ::geteuid(), m_allow_root)) {
            log_limited(m_refused_warnings, spdlog::level::warn,
                        fmt::format("event=peer_refused caller_uid={} caller_pid={} reason=\"uid not allowed\"",
                                    caller.uid, caller.pid));
            continue;  // closed before any byte is read
        }
        if (m_connections.size() >= m_max_connections) {
            refuse_busy(std::move(fd), caller);
            continue;
        }
        const std::uint64_t id = m_next_id++;
        auto conn = std::make_unique<Connection>(m_event.get(), std::move(fd), id, caller, *m_dispatcher, *m_scheduler,
                                                 m_connection_options, m_warnings,
                                                 [this](Connection& c) { connection_closed(c); });
        m_connections.emplace(id, std::move(conn));
        ++m_active;
    }
}

void Daemon::refuse_busy(UniqueFd fd, const Caller& caller) {
    log_limited(m_refused_warnings, spdlog::level::warn,
                fmt::format("event=connection_refused caller_uid={} caller_pid={} reason=\"max_connections {} "
                            "reached\" status=busy",
                            caller.uid, caller.pid, m_max_connections));
    pb::Response busy;
    busy.set_id(0);
    busy.set_status(pb::STATUS_BUSY);
    busy.set_message(fmt::format("trustkeyd is at its connection cap ({} connections); retry later",
                                 m_max_connections));
    std::vector<std::uint8_t> frame;
    proto::append_frame(frame, static_cast<std::uint8_t>(proto::kMinProtocolVersion), busy);
    // A new socket's buffer takes this small frame whole; a client that is gone is not waited for.
    [[maybe_unused]] const ssize_t n = ::send(fd.get(), frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(fd.get(), SHUT_WR);
}

void Daemon::pause_accepting() {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything else that would fail again at once.
    m_accept_paused = true;
    sd_event_source_set_enabled(m_accept_source.get(), SD_EVENT_OFF);
    std::uint64_t now = 0;
    sd_event_now(m_event.get(), CLOCK_MONOTONIC, &now);
    sd_event_source_set_time(m_accept_retry.get(), now + kAcceptRetryUsec);
    sd_event_source_set_enabled(m_accept_retry.get(), SD_EVENT_ONESHOT);
}

void Daemon::resume_accepting() {
    if (!m_accept_paused || !m_accept_source) return;
    m_accept_paused = false;
    sd_event_source_set_enabled(m_accept_retry.get(), SD_EVENT_OFF);
    sd_event_source_set_enabled(m_accept_source.get(), SD_EVENT_ON);
}

void Daemon::connection_closed(Connection& connection) {
    if (m_stopping) return;  // shut_down_connections() frees them
    auto it = m_connections.find(connection.id());
    if (it == m_connections.end()) return;
    // Freed once the loop has left the callback that closed it.
    m_closed.push_back(std::move(it->second));
    m_connections.erase(it);
    --m_active;
    sd_event_source_set_enabled(m_reap.get(), SD_EVENT_ONESHOT);
    resume_accepting();  // a descriptor is free again
}

void Daemon::shut_down_connections() {
    m_stopping = true;
    for (auto& [id, conn] : m_connections) conn->shut_down();
    m_connections.clear();
    m_closed.clear();
    m_asked.clear();
    m_active = 0;
}

} // namespace trustkey::server
