#include "daemon/server/daemon.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/backend/tpm2/tpm2_config.h"
#include "lib/core/error.h"
#include "lib/core/log.h"
#include "daemon/server/peer_credentials.h"

namespace trustkey::server {

namespace {

sigset_t stop_signals() {
    sigset_t set;
    ::sigemptyset(&set);
    ::sigaddset(&set, SIGTERM);
    ::sigaddset(&set, SIGINT);
    ::sigaddset(&set, SIGHUP);
    return set;
}

const char* signal_name(std::uint32_t signo) noexcept {
    switch (signo) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    default: return "unknown";
    }
}

} // namespace

void Daemon::block_stop_signals() {
    const sigset_t set = stop_signals();
    if (const int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) throw_errno("pthread_sigmask", rc);
    ::signal(SIGPIPE, SIG_IGN);
}

Daemon::Daemon(const config::Config& config, const std::filesystem::path& socket_path)
    : m_socket_path(socket_path), m_max_connections(config.max_connections), m_allow_root(config.allow_root) {
    m_connection_options.frame_timeout = std::chrono::seconds(config.frame_timeout_seconds);
    m_wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!m_wake) throw_errno("eventfd", errno);
    m_finished = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!m_finished) throw_errno("eventfd", errno);

    // The socket first: a second daemon must stop before it touches any token.
    m_listener.emplace(Listener::open(m_socket_path));
    for (const auto& pc : config::backends_to_open(config)) {
        spdlog::info("event=backend_open backend={} module={} token={}", log::quoted(pc.name),
                     log::quoted(pc.module.string()), log::quoted(pc.token_uri));
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
    dopt.stop = [this](const Caller& caller) { request_stop(caller); };
    m_dispatcher = std::make_unique<Dispatcher>(m_ring, std::move(dopt));
}

Daemon::~Daemon() {
    shut_down_connections();
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
    const sigset_t set = stop_signals();
    UniqueFd sigfd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd) throw_errno("signalfd", errno);
    spdlog::info("event=listening socket={} max_connections={} allow_root={}", log::quoted(m_socket_path.string()),
                 m_max_connections, m_allow_root);

    bool stop = false;
    while (!stop) {
        std::array<pollfd, 4> fds{{{m_listener->fd(), POLLIN, 0},
                                   {sigfd.get(), POLLIN, 0},
                                   {m_wake.get(), POLLIN, 0},
                                   {m_finished.get(), POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll", errno);
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info{};
            if (::read(sigfd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info))
                spdlog::info("event=stop reason=signal signal={}", signal_name(info.ssi_signo));
            else
                spdlog::info("event=stop reason=signal");
            stop = true;
        }
        if ((fds[2].revents & POLLIN) && !stop) {
            std::lock_guard lock(m_stop_mutex);
            spdlog::info("event=stop {}", m_stop_reason.empty() ? "reason=request" : m_stop_reason);
            stop = true;
        }
        if (fds[3].revents & POLLIN) {
            std::uint64_t count = 0;
            [[maybe_unused]] const ssize_t n = ::read(m_finished.get(), &count, sizeof count);
        }
        if (!stop && (fds[0].revents & POLLIN)) accept_one();
        reap_finished();
    }
    m_listener.reset();  // stop accepting and remove the socket
    shut_down_connections();
    spdlog::info("event=stopped");
}

void Daemon::accept_one() {
    UniqueFd fd;
    try {
        fd = m_listener->accept();
    } catch (const Error& e) {
        // EMFILE and the like: the daemon carries on with the connections it has.
        spdlog::warn("event=accept_failed error={}, ignoring", log::quoted(e.what()));
        return;
    }
    if (!fd) return;

    Caller caller;
    try {
        caller = read_peer_credentials(fd.get());
    } catch (const Error& e) {
        spdlog::warn("event=peer_refused reason={}", log::quoted(e.what()));
        return;
    }
    if (!caller_allowed(caller, ::geteuid(), m_allow_root)) {
        spdlog::warn("event=peer_refused caller_uid={} caller_pid={} reason=\"uid not allowed\"", caller.uid,
                     caller.pid);
        return;  // closed before any byte is read
    }
    reap_finished();
    if (m_active.load() >= m_max_connections) {
        spdlog::warn("event=connection_refused caller_uid={} caller_pid={} reason=\"max_connections {} reached\"",
                     caller.uid, caller.pid, m_max_connections);
        return;
    }

    auto slot = std::make_unique<Slot>();
    slot->fd = std::move(fd);
    Slot* raw = slot.get();
    ++m_active;
    try {
        raw->thread = std::thread([this, raw, caller] {
            Connection conn(raw->fd.get(), caller, *m_dispatcher, m_connection_options);
            conn.run();
            --m_active;
            raw->done = true;
            const std::uint64_t one = 1;
            [[maybe_unused]] const ssize_t n = ::write(m_finished.get(), &one, sizeof one);
        });
    } catch (const std::system_error& e) {
        --m_active;
        spdlog::error("event=thread_failed caller_uid={} error={}", caller.uid, log::quoted(e.what()));
        return;
    }
    m_slots.push_back(std::move(slot));
}

void Daemon::reap_finished() {
    for (auto it = m_slots.begin(); it != m_slots.end();) {
        if ((*it)->done.load()) {
            if ((*it)->thread.joinable()) (*it)->thread.join();
            it = m_slots.erase(it);
        } else {
            ++it;
        }
    }
}

void Daemon::shut_down_connections() {
    for (auto& slot : m_slots)
        if (slot->fd) ::shutdown(slot->fd.get(), SHUT_RDWR);
    for (auto& slot : m_slots)
        if (slot->thread.joinable()) slot->thread.join();
    m_slots.clear();
}

} // namespace trustkey::server
