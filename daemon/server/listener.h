// The listening Unix socket: a private directory (0700, ours), a socket file
// (0600), refusal to start over a live daemon, replacement of a stale socket.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "lib/core/unique_fd.h"

namespace trustkey::server {

class Listener {
public:
    // Creates the directory if missing, checks it, and binds and listens on `path`.
    // Throws Errc::config (unsafe directory, live daemon, not a socket) or Errc::io.
    static Listener open(const std::filesystem::path& path);

    Listener(Listener&&) noexcept = default;
    Listener& operator=(Listener&&) noexcept = default;
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    // Unlinks the socket file if it is still the one this listener made.
    ~Listener();

    int fd() const noexcept { return m_fd.get(); }
    const std::filesystem::path& path() const noexcept { return m_path; }
    // Accepts one connection (close-on-exec, non-blocking). Returns an empty fd when none is
    // pending (`error` 0) or accept4 failed (`error` its errno: EMFILE, ENFILE, ENOBUFS …);
    // errors of an aborted peer are skipped.
    UniqueFd accept(int& error) const noexcept;

private:
    Listener(UniqueFd fd, std::filesystem::path path, dev_t dev, ino_t ino)
        : m_fd(std::move(fd)), m_path(std::move(path)), m_dev(dev), m_ino(ino) {}

    UniqueFd m_fd;
    std::filesystem::path m_path;
    dev_t m_dev = 0;
    ino_t m_ino = 0;
};

} // namespace trustkey::server
