#include "tools/trust/client/metadata_cache.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "lib/core/error.h"
#include "lib/core/unique_fd.h"
#include "tools/trust/tuf/role_name.h"

namespace trustkey::trust {

namespace fs = std::filesystem;

namespace {

bool is_safe_relative(std::string_view text) {
    if (text.empty() || text.front() == '/' || text.back() == '/') return false;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('/', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view seg = text.substr(start, end - start);
        if (seg.empty() || seg == "." || seg == "..") return false;
        start = end + 1;
    }
    return text.find('\0') == std::string_view::npos;
}

void write_all(int fd, const std::string& bytes, const fs::path& path) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write", errno, path.string());
        done += static_cast<std::size_t>(n);
    }
}

void fsync_dir(const fs::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open", errno, dir.string());
    if (::fsync(fd.get()) != 0) throw_errno("fsync", errno, dir.string());
}

} // namespace

MetadataCache::MetadataCache(fs::path trust_dir, std::string gun) : m_trust_dir(std::move(trust_dir)) {
    if (!is_safe_relative(gun))
        throw Error(Errc::invalid_argument, "GUN \"" + gun + "\" cannot name a folder of the trust directory");
    m_dir = m_trust_dir / "tuf" / gun / "metadata";
}

fs::path MetadataCache::path_of(const std::string& role) const {
    if (!tuf::is_base_role(role) && !tuf::is_delegation(role))
        throw Error(Errc::invalid_argument, "\"" + role + "\" is not a TUF role name");
    return m_dir / (role + ".json");
}

std::optional<std::string> MetadataCache::read(const std::string& role) const {
    fs::path path = path_of(role);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw_errno("open", errno, path.string());
    }
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read", errno, path.string());
        if (n == 0) break;
        if (out.size() + static_cast<std::size_t>(n) > kMaxFileSize)
            throw Error(Errc::io, "cached file is larger than " + std::to_string(kMaxFileSize) + " bytes", 0, "read",
                        path.string());
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

void MetadataCache::make_dirs(const fs::path& dir) const {
    // Every missing folder from the trust directory down is made 0700.
    std::vector<fs::path> missing;
    for (fs::path p = dir; !p.empty() && !fs::exists(p); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it)
        if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) throw_errno("mkdir", errno, it->string());
}

void MetadataCache::write_one(const fs::path& path, const std::string& bytes) const {
    make_dirs(path.parent_path());
    std::string tmpl = (path.parent_path() / ("." + path.filename().string() + ".XXXXXX")).string();
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    UniqueFd fd(::mkostemp(name.data(), O_CLOEXEC)); // mode 0600
    if (!fd) throw_errno("mkostemp", errno, path.string());
    fs::path tmp(name.data());
    try {
        if (::fchmod(fd.get(), 0600) != 0) throw_errno("fchmod", errno, tmp.string());
        write_all(fd.get(), bytes, tmp);
        if (::fsync(fd.get()) != 0) throw_errno("fsync", errno, tmp.string());
        if (::close(fd.release()) != 0) throw_errno("close", errno, tmp.string());
        if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename", errno, path.string());
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    fsync_dir(path.parent_path());
}

UniqueFd MetadataCache::lock_writers() const {
    const fs::path parent = m_dir.parent_path();
    make_dirs(parent);
    const fs::path path = parent / ".metadata.lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw_errno("open", errno, path.string());
    while (::flock(fd.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw_errno("flock", errno, path.string());
    return fd;
}

void MetadataCache::write(const std::map<std::string, std::string>& files) const {
    const UniqueFd lock = lock_writers();
    for (const auto& [role, bytes] : files) write_one(path_of(role), bytes);
}

void MetadataCache::replace(const std::map<std::string, std::string>& files) const {
    const fs::path parent = m_dir.parent_path();
    const UniqueFd lock = lock_writers();
    std::string tmpl = (parent / ".metadata.XXXXXX").string();
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    if (::mkdtemp(name.data()) == nullptr) throw_errno("mkdtemp", errno, parent.string()); // mode 0700
    const fs::path fresh(name.data());
    try {
        for (const auto& [role, bytes] : files) {
            (void)path_of(role); // checks the role name
            write_one(fresh / (role + ".json"), bytes);
        }
        if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, m_dir.c_str(), RENAME_EXCHANGE) != 0) {
            if (errno != ENOENT) throw_errno("renameat2", errno, m_dir.string());
            if (::rename(fresh.c_str(), m_dir.c_str()) != 0) throw_errno("rename", errno, m_dir.string());
        }
        fsync_dir(parent);
    } catch (...) {
        std::error_code ignored;
        fs::remove_all(fresh, ignored);
        throw;
    }
    std::error_code ignored;
    fs::remove_all(fresh, ignored); // the old folder, now under the temporary name
}

} // namespace trustkey::trust
