// The listening Unix socket: a private directory (0700, ours), a socket file
// (0600), refusal to start over a live daemon, replacement of a stale socket.
// Or the one socket a service manager passes (socket activation): its file is the
// manager's, and stays when the listener goes.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>

#include "lib/core/unique_fd.h"

namespace trustkey::server {

class Listener {
public:
    // Creates the directory if missing, checks it, and binds and listens on `path`.
    // Throws Errc::config (unsafe directory, live daemon, not a socket) or Errc::io.
    static Listener open(const std::filesystem::path& path);
    // The listening socket passed by a service manager (LISTEN_FDS, LISTEN_PID; the variables
    // are then removed from the environment): nullopt when none was passed. Throws Errc::config
    // when more than one was passed or it is not a listening AF_UNIX stream socket.
    static std::optional<Listener> from_service_manager();
    // Takes `fd`, which must be a listening AF_UNIX stream socket bound to a path, as above; it
    // is made non-blocking and close-on-exec. Throws Errc::config otherwise.
    static Listener adopt(UniqueFd fd);

    Listener(Listener&&) noexcept = default;
    Listener& operator=(Listener&&) noexcept = default;
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    // Unlinks the socket file if it is still the one this listener made.
    ~Listener();

    int fd() const noexcept { return m_fd.get(); }
    const std::filesystem::path& path() const noexcept { return m_path; }
    // True when the socket came from a service manager (its file is left in place).
    bool inherited() const noexcept { return !m_owns_file; }
    // Accepts one connection (close-on-exec, non-blocking). Returns an empty fd when none is
    // pending (`error` 0) or accept4 failed (`error` its errno: EMFILE, ENFILE, ENOBUFS …);
    // errors of an aborted peer are skipped.
    UniqueFd accept(int& error) const noexcept;

private:
    Listener(UniqueFd fd, std::filesystem::path path, dev_t dev, ino_t ino, bool owns_file)
        : m_fd(std::move(fd)), m_path(std::move(path)), m_dev(dev), m_ino(ino), m_owns_file(owns_file) {}

    UniqueFd m_fd;
    std::filesystem::path m_path;
    dev_t m_dev = 0;
    ino_t m_ino = 0;
    bool m_owns_file = true;
};

} // namespace trustkey::server
