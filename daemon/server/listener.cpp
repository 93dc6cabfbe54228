#include "daemon/server/listener.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include "lib/core/error.h"

namespace trustkey::server {

namespace fs = std::filesystem;

namespace {

constexpr int kBacklog = 128;

sockaddr_un make_address(const fs::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string& s = path.native();
    if (s.empty() || s.size() >= sizeof addr.sun_path)
        throw Error(Errc::config,
                    fmt::format("socket path must be 1 to {} bytes long", sizeof addr.sun_path - 1), 0, {}, s);
    std::memcpy(addr.sun_path, s.data(), s.size());
    return addr;
}

// Creates the socket directory (0700) if missing, then insists that it is a directory,
// owned by us and closed to group and others.
void prepare_directory(const fs::path& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT) throw_errno("lstat", errno, dir.string());
        std::error_code ec;
        if (dir.has_parent_path()) fs::create_directories(dir.parent_path(), ec);
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("mkdir", errno, dir.string());
        if (::lstat(dir.c_str(), &st) != 0) throw_errno("lstat", errno, dir.string());
    }
    if (!S_ISDIR(st.st_mode))
        throw Error(Errc::config, "the socket directory is not a directory", 0, {}, dir.string());
    if (st.st_uid != ::geteuid())
        throw Error(Errc::config,
                    fmt::format("the socket directory is owned by uid {}, not by uid {}; refusing to use it",
                                st.st_uid, ::geteuid()),
                    0, {}, dir.string());
    if ((st.st_mode & 077) != 0)
        throw Error(Errc::config,
                    fmt::format("the socket directory has mode {:04o}: group and others must have no access "
                                "(chmod 700)",
                                st.st_mode & 07777),
                    0, {}, dir.string());
}

UniqueFd new_socket(int extra_flags) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | extra_flags, 0));
    if (!fd) throw_errno("socket", errno);
    return fd;
}

// Handles a file already at the socket path: refuse if a daemon answers there or it is not
// a socket; unlink a stale socket.
void clear_stale_socket(const fs::path& path, const sockaddr_un& addr) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        throw_errno("lstat", errno, path.string());
    }
    if (!S_ISSOCK(st.st_mode))
        throw Error(Errc::config, "the socket path exists and is not a socket; refusing to replace it", 0, {},
                    path.string());
    UniqueFd probe = new_socket(0);
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0)
        throw Error(Errc::config, "another trustkeyd is already listening on this socket", 0, {},
                    path.string());
    const int err = errno;
    if (err != ECONNREFUSED) throw_errno("connect", err, path.string());
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("unlink", errno, path.string());
}

} // namespace

Listener Listener::open(const fs::path& path) {
    const sockaddr_un addr = make_address(path);
    prepare_directory(path.has_parent_path() ? path.parent_path() : fs::path("."));
    clear_stale_socket(path, addr);

    UniqueFd fd = new_socket(SOCK_NONBLOCK);
    // umask is process-wide, but this runs at start-up before any connection thread exists.
    const mode_t old_mask = ::umask(0177);
    const int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    const int bind_err = errno;
    ::umask(old_mask);
    if (rc != 0) {
        if (bind_err == EADDRINUSE)
            throw Error(Errc::config, "another trustkeyd is already listening on this socket", 0, {},
                        path.string());
        throw_errno("bind", bind_err, path.string());
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw_errno("stat", errno, path.string());
    Listener listener(std::move(fd), path, st.st_dev, st.st_ino, true);
    if (::chmod(path.c_str(), 0600) != 0) throw_errno("chmod", errno, path.string());
    if (::listen(listener.fd(), kBacklog) != 0) throw_errno("listen", errno, path.string());
    return listener;
}

std::optional<Listener> Listener::from_service_manager() {
    const int n = sd_listen_fds(1);
    if (n < 0) throw_errno("sd_listen_fds", -n);
    if (n == 0) return std::nullopt;
    if (n > 1) {
        for (int i = 0; i < n; ++i) ::close(SD_LISTEN_FDS_START + i);
        throw Error(Errc::config,
                    fmt::format("the service manager passed {} sockets; trustkeyd takes exactly one (one "
                                "ListenStream= in trustkeyd.socket)",
                                n));
    }
    return adopt(UniqueFd(SD_LISTEN_FDS_START));
}

Listener Listener::adopt(UniqueFd fd) {
    const std::string subject = fmt::format("fd {}", fd.get());
    const int r = sd_is_socket_unix(fd.get(), SOCK_STREAM, 1, nullptr, 0);
    if (r < 0) throw_errno("sd_is_socket_unix", -r, subject);
    if (r == 0)
        throw Error(Errc::config,
                    "the socket passed by the service manager is not a listening Unix stream socket "
                    "(trustkeyd.socket needs ListenStream= with a path)",
                    0, {}, subject);
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        throw_errno("getsockname", errno, subject);
    const std::size_t path_len = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    if (path_len == 0 || addr.sun_path[0] == '\0')
        throw Error(Errc::config,
                    "the socket passed by the service manager has no path (abstract or unnamed); "
                    "clients find trustkeyd by a path",
                    0, {}, subject);
    const fs::path path(std::string(addr.sun_path, ::strnlen(addr.sun_path, path_len)));
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) throw_errno("fcntl", errno, subject);
    if (::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0) throw_errno("fcntl", errno, subject);
    return Listener(std::move(fd), path, 0, 0, false);
}

Listener::~Listener() {
    if (!m_fd || !m_owns_file) return;
    struct stat st {};
    if (::lstat(m_path.c_str(), &st) == 0 && st.st_dev == m_dev && st.st_ino == m_ino) ::unlink(m_path.c_str());
}

UniqueFd Listener::accept(int& error) const noexcept {
    error = 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
        const int fd = ::accept4(m_fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) return UniqueFd(fd);
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) return {};
        if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
        error = err;
        return {};
    }
    return {};
}

} // namespace trustkey::server
