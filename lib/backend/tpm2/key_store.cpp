#include "lib/backend/tpm2/key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <random>

#include "lib/core/atomic_file.h"
#include "lib/core/error.h"
#include "lib/core/unique_fd.h"

namespace trustkey::backend::tpm2 {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSuffix = ".tpmkey";
constexpr const char* kMetaSuffix = ".meta.json";
constexpr const char* kTempPrefix = ".tmp-";

bool is_key_id(const std::string& s) { return s.size() == 64 && is_hex(s); }

void fsync_dir(const fs::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open", errno, dir.string());
    if (::fsync(fd.get()) != 0) throw_errno("fsync", errno, dir.string());
}

Bytes read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_errno("open", errno, path.string());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

KeyStore::KeyStore(fs::path dir) : m_dir(std::move(dir)) {
    std::error_code ec;
    fs::create_directories(m_dir, ec);
    if (ec) throw Error(Errc::io, "cannot create the TPM state directory: " + ec.message(), 0, "mkdir", m_dir.string());
    struct stat st{};
    if (::stat(m_dir.c_str(), &st) != 0) throw_errno("stat", errno, m_dir.string());
    if (!S_ISDIR(st.st_mode)) throw Error(Errc::io, "the TPM state path is not a directory", 0, {}, m_dir.string());
    if ((st.st_mode & 0777) != 0700 && ::chmod(m_dir.c_str(), 0700) != 0) throw_errno("chmod", errno, m_dir.string());
    for (const auto& e : fs::directory_iterator(m_dir, ec))
        if (e.path().filename().string().rfind(kTempPrefix, 0) == 0) fs::remove(e.path(), ec);
    m_removals = RemovalWatch(m_dir);
}

fs::path KeyStore::path_of(const std::string& id) const { return m_dir / (id + kSuffix); }

bool KeyStore::exists(const std::string& id) const { return ::access(path_of(id).c_str(), F_OK) == 0; }

std::vector<KeyStore::Entry> KeyStore::load_all(std::vector<Damaged>* damaged) const {
    std::vector<Entry> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(m_dir, ec)) {
        const fs::path& p = e.path();
        if (p.extension() != kSuffix) continue;
        const std::string id = p.stem().string();
        if (!is_key_id(id)) continue;
        Bytes data;
        try {
            data = read_all(p);
            out.push_back(Entry{id, decode_key_blob(data, p.string())});
        } catch (const Error& e) {
            if (damaged) damaged->push_back(Damaged{id, key_blob_name(data), e.message()});
        }
    }
    if (ec) throw Error(Errc::io, "cannot read the TPM state directory: " + ec.message(), 0, "opendir", m_dir.string());
    return out;
}

std::optional<KeyBlob> KeyStore::read(const std::string& id, const std::string& subject) const {
    const fs::path p = path_of(id);
    std::error_code ec;
    if (!fs::exists(p, ec)) return std::nullopt;
    return decode_key_blob(read_all(p), subject);
}

void KeyStore::write(const std::string& id, const KeyBlob& blob) const {
    const fs::path target = path_of(id);
    std::error_code ec;
    if (fs::exists(target, ec)) throw Error(Errc::already_exists, "this key is already on the TPM", 0, {}, id);
    const Bytes data = encode_key_blob(blob);
    std::random_device rd;
    const fs::path tmp = m_dir / (kTempPrefix + id.substr(0, 16) + "-" + std::to_string(rd()));
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) throw_errno("open", errno, tmp.string());
    try {
        std::size_t done = 0;
        while (done < data.size()) {
            const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("write", errno, tmp.string());
            done += static_cast<std::size_t>(n);
        }
        if (::fsync(fd.get()) != 0) throw_errno("fsync", errno, tmp.string());
        fd = UniqueFd();
        // link() fails when the target appeared meanwhile, where rename() would replace it.
        if (::link(tmp.c_str(), target.c_str()) != 0) {
            if (errno == EEXIST) throw Error(Errc::already_exists, "this key is already on the TPM", 0, {}, id);
            throw_errno("link", errno, target.string());
        }
        fs::remove(tmp, ec);
        fsync_dir(m_dir);
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
}

bool KeyStore::remove(const std::string& id) const {
    const fs::path p = path_of(id);
    if (::unlink(p.c_str()) != 0) {
        if (errno == ENOENT) return false;
        throw_errno("unlink", errno, p.string());
    }
    const fs::path meta = m_dir / (id + kMetaSuffix);
    if (::unlink(meta.c_str()) != 0 && errno != ENOENT) throw_errno("unlink", errno, meta.string());
    fsync_dir(m_dir);
    return true;
}

KeyMetadata KeyStore::read_metadata(const std::string& id, const std::string& subject) const {
    const fs::path p = m_dir / (id + kMetaSuffix);
    std::error_code ec;
    if (!fs::exists(p, ec)) return {};
    try {
        return metadata_from_json(read_file(p));
    } catch (const Error& e) {
        throw Error(Errc::key_damaged, "its metadata file is unreadable: " + e.message(), 0, {}, subject);
    }
}

void KeyStore::write_metadata(const std::string& id, const KeyMetadata& meta) const {
    write_file_atomically(m_dir / (id + kMetaSuffix), metadata_json(meta), 0600);
}

} // namespace trustkey::backend::tpm2
