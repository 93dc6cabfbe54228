#include "lib/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

#include "lib/core/error.h"
#include "lib/core/unique_fd.h"

namespace trustkey {

void write_file_atomically(const std::filesystem::path& path, std::string_view content, mode_t mode) {
    const std::filesystem::path dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    std::filesystem::path tmp = path;
    tmp += ".tmp-" + std::to_string(::getpid());
    try {
        {
            UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
            if (fd.get() < 0) throw_errno("open", errno, tmp.string());
            while (!content.empty()) {
                const ssize_t n = ::write(fd.get(), content.data(), content.size());
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) throw_errno("write", errno, tmp.string());
                content.remove_prefix(static_cast<std::size_t>(n));
            }
            if (::fsync(fd.get()) != 0) throw_errno("fsync", errno, tmp.string());
        }
        if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename", errno, path.string());
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw;
    }
    fsync_directory(dir);
}

void write_new_directory(const std::filesystem::path& dir, const std::map<std::string, std::string>& files,
                         mode_t mode) {
    const std::filesystem::path target = std::filesystem::absolute(dir);
    std::error_code ec;
    if (std::filesystem::exists(target, ec) || ec)
        throw Error(Errc::already_exists, target.string() + " exists; a new directory is written only where none is");
    std::filesystem::path tmp = target;
    tmp += ".tmp-" + std::to_string(::getpid());
    try {
        std::filesystem::create_directories(tmp);
        for (const auto& [name, content] : files) write_file_atomically(tmp / name, content, mode);
        if (::rename(tmp.c_str(), target.c_str()) != 0) throw_errno("rename", errno, target.string());
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove_all(tmp, ignored);
        throw;
    }
    fsync_directory(target.parent_path());
}

void fsync_directory(const std::filesystem::path& dir) {
    const std::filesystem::path d = dir.empty() ? std::filesystem::path(".") : dir;
    UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) throw_errno("open", errno, d.string());
    if (::fsync(fd.get()) != 0) throw_errno("fsync", errno, d.string());
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        Error e(Errc::io, "cannot read " + path.string(), static_cast<std::uint64_t>(errno));
        e.set_domain(ErrorDomain::os);
        throw e;
    }
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace trustkey
