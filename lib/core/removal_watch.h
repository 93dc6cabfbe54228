// Tells whether files may have left a directory since the last look, so that code which
// must notice a file deleted behind its back (by hand, or by another process sharing the
// directory) can skip its per-use existence check while nothing was removed.
//
// Built on inotify: asking costs one non-blocking read of the watch descriptor. Removal,
// renaming away, an overflowing event queue, and the directory itself going all count as
// "may have": the caller then checks the files it cares about. Without inotify (limits
// reached, a filesystem it cannot watch) every look answers "may have".
//
// Not thread-safe: one user at a time (the TPM backend asks under its TPM lock).
#pragma once

#include <filesystem>

#include "lib/core/unique_fd.h"

namespace trustkey {

class RemovalWatch {
public:
    RemovalWatch() = default;  // watches nothing: every look answers "may have"
    explicit RemovalWatch(const std::filesystem::path& dir);

    // True when a file may have been removed or renamed away since the last call (or since
    // the watch began, on the first call), or when the directory cannot be watched.
    bool files_may_be_gone();

    // Whether inotify watches the directory (false: every look answers "may have").
    bool watching() const noexcept { return static_cast<bool>(m_fd); }

private:
    UniqueFd m_fd;
};

} // namespace trustkey
