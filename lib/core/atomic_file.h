// Files written whole or not at all: through a temporary file beside the target, fsync,
// rename, then fsync of the directory, so a reader sees the old file, the whole new one,
// or none. A new directory of files likewise appears complete or not at all.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include <sys/types.h>

namespace trustkey {

// Throws Error(io) naming the path; the temporary file is removed on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view content, mode_t mode = 0644);

// Creates `dir` (which must not exist) holding `files` (name -> content): written into a
// temporary directory beside it, then renamed. Throws Error naming the path; nothing is
// left behind on failure.
void write_new_directory(const std::filesystem::path& dir, const std::map<std::string, std::string>& files,
                         mode_t mode = 0644);

// fsyncs a directory, so a rename or a new file in it reaches the disk.
void fsync_directory(const std::filesystem::path& dir);

// Reads a whole file. Throws Error(io) naming the path.
std::string read_file(const std::filesystem::path& path);

} // namespace trustkey
