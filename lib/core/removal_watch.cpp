#include "lib/core/removal_watch.h"

#include <sys/inotify.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace trustkey {

namespace {
constexpr std::uint32_t kRemovals = IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF;
} // namespace

RemovalWatch::RemovalWatch(const std::filesystem::path& dir) {
    UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd) return;
    if (::inotify_add_watch(fd.get(), dir.c_str(), kRemovals | IN_ONLYDIR) < 0) return;
    m_fd = std::move(fd);
}

bool RemovalWatch::files_may_be_gone() {
    if (!m_fd) return true;
    bool gone = false;
    alignas(inotify_event) char buf[4096];
    for (;;) {
        const ssize_t n = ::read(m_fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return gone;
            m_fd.reset();  // an unreadable watch watches nothing: check every time from now on
            return true;
        }
        if (n == 0) return gone;
        for (std::size_t off = 0; off + sizeof(inotify_event) <= static_cast<std::size_t>(n);) {
            inotify_event ev;
            std::memcpy(&ev, buf + off, sizeof ev);
            if (ev.mask & (kRemovals | IN_Q_OVERFLOW)) gone = true;
            if (ev.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                // The directory went (or moved): inotify stops reporting on it.
                m_fd.reset();
                return true;
            }
            off += sizeof(inotify_event) + ev.len;
        }
    }
}

} // namespace trustkey
