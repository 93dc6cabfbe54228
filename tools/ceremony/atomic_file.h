// Files the ceremony writes: through a temporary file beside the target, fsync, rename,
// then fsync of the directory, so a reader sees the old file, the whole new one, or none.
#pragma once

#include <filesystem>
#include <string_view>

#include <sys/types.h>

namespace trustkey::ceremony {

// Throws Error(io) naming the path; the temporary file is removed on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view content, mode_t mode = 0644);

// fsyncs a directory, so a rename or a new file in it reaches the disk.
void fsync_directory(const std::filesystem::path& dir);

// Reads a whole file. Throws Error(io) naming the path.
std::string read_file(const std::filesystem::path& path);

} // namespace trustkey::ceremony
