// The local TUF metadata of one repository as notary lays it out:
// <trust_dir>/tuf/<gun>/metadata/<role>.json (a delegation's slash makes a folder).
// Directories are made 0700 and files 0600. Each file is replaced atomically: written to
// a temporary file in the same folder, flushed with fsync, then renamed over the old one.
// Writers of one repository's cache (other processes sharing the trust directory too) take
// turns through an flock on <trust_dir>/tuf/<gun>/.metadata.lock, so a folder swapped in by
// replace() never pulls a file out from under another writer's rename.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "lib/core/unique_fd.h"

namespace trustkey::trust {

class MetadataCache {
public:
    // Largest cached file read back.
    static constexpr std::size_t kMaxFileSize = 100 * 1024 * 1024;

    // Throws Error(invalid_argument) for a GUN that cannot be a relative path
    // (empty, absolute, "." or ".." segments, empty segments).
    MetadataCache(std::filesystem::path trust_dir, std::string gun);

    // <trust_dir>/tuf/<gun>/metadata
    const std::filesystem::path& dir() const noexcept { return m_dir; }
    // The file of `role`. Throws Error(invalid_argument) for a name that is no TUF role.
    std::filesystem::path path_of(const std::string& role) const;

    // The cached bytes of `role`; nullopt when there is no such file. Throws Error(io)
    // when the file exists but cannot be read or is larger than kMaxFileSize.
    std::optional<std::string> read(const std::string& role) const;
    // Writes every role -> bytes entry, each one atomically. Throws Error(io) naming the
    // file; files already renamed stay, the others keep their previous content.
    void write(const std::map<std::string, std::string>& files) const;
    // Replaces the repository's whole metadata folder with exactly `files` (a repository
    // started afresh): they are written to a new folder beside it, which is then swapped
    // in with one rename (RENAME_EXCHANGE) and the old folder removed. Throws Error(io);
    // on failure the old folder stays as it was.
    void replace(const std::map<std::string, std::string>& files) const;

private:
    // Blocks until this process is the repository's only cache writer; released when the fd closes.
    UniqueFd lock_writers() const;
    void make_dirs(const std::filesystem::path& dir) const;
    void write_one(const std::filesystem::path& path, const std::string& bytes) const;

    std::filesystem::path m_trust_dir;
    std::filesystem::path m_dir;
};

} // namespace trustkey::trust
