#include "tools/ceremony/transcript.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "lib/core/atomic_file.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/tuf/canonical_json.h"
#include "tools/trust/tuf/expiry.h"

namespace trustkey::ceremony {

namespace {

using nlohmann::json;

std::string hash_without_hash(json line) {
    line.erase("hash");
    return to_hex(sha256(as_bytes(tuf::canonical_json(line))));
}

[[noreturn]] void bad_line(const std::filesystem::path& path, std::size_t n, const std::string& why) {
    throw Error(Errc::malformed, path.string() + " line " + std::to_string(n) + ": " + why);
}

bool is_string_array(const json& v) {
    if (!v.is_array()) return false;
    for (const json& item : v)
        if (!item.is_string()) return false;
    return true;
}

void check_fields(const std::filesystem::path& path, std::size_t n, const json& line) {
    if (!line.is_object()) bad_line(path, n, "not a JSON object");
    for (const char* field : {"time", "operator", "step", "prev", "hash"})
        if (!line.contains(field) || !line[field].is_string())
            bad_line(path, n, std::string("field \"") + field + "\" is missing or not a string");
    for (const char* field : {"tokens", "keys"})
        if (!line.contains(field) || !is_string_array(line[field]))
            bad_line(path, n, std::string("field \"") + field + "\" is missing or not a list of strings");
    if (!line.contains("seq") || !line["seq"].is_number_unsigned()) bad_line(path, n, "field \"seq\" is missing");
    if (!line.contains("details") || !line["details"].is_object())
        bad_line(path, n, "field \"details\" is missing or not an object");
}

} // namespace

std::vector<json> verify_transcript(const std::filesystem::path& path) {
    const std::string text = read_file(path);
    std::vector<json> lines;
    std::string prev = kNoPreviousLine;
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t n = lines.size() + 1;
        const std::size_t end = text.find('\n', start);
        if (end == std::string::npos)
            bad_line(path, n, "the line has no end: the ceremony was interrupted while writing it");
        const std::string_view raw(text.data() + start, end - start);
        json line;
        try {
            line = tuf::parse_json(raw, "transcript line");
        } catch (const Error&) {
            bad_line(path, n, "not valid JSON (edited or damaged)");
        }
        check_fields(path, n, line);
        if (tuf::canonical_json(line) != raw) bad_line(path, n, "not in canonical form: it was edited");
        if (hash_without_hash(line) != line["hash"].get<std::string>())
            bad_line(path, n, "its content does not match its hash: it was edited after it was written");
        if (line["seq"].get<std::uint64_t>() != n)
            bad_line(path, n, "sequence number " + std::to_string(line["seq"].get<std::uint64_t>()) +
                                  " where " + std::to_string(n) + " belongs: a line was removed or moved");
        if (line["prev"].get<std::string>() != prev)
            bad_line(path, n, "the previous line's hash does not match: a line before it was removed, added or moved");
        prev = line["hash"].get<std::string>();
        lines.push_back(std::move(line));
        start = end + 1;
    }
    return lines;
}

Transcript::Transcript(std::filesystem::path path, std::string operator_name)
    : m_path(std::move(path)), m_operator(std::move(operator_name)), m_last_hash(kNoPreviousLine) {
    m_fd = UniqueFd(::open(m_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (m_fd.get() < 0) throw_errno("open", errno, m_path.string());
    if (::flock(m_fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            throw Error(Errc::denied, "another ceremony is writing the transcript " + m_path.string());
        throw_errno("flock", errno, m_path.string());
    }
    m_history = verify_transcript(m_path);
    if (!m_history.empty()) {
        m_seq = m_history.size();
        m_last_hash = m_history.back()["hash"].get<std::string>();
    } else {
        fsync_directory(m_path.parent_path());
    }
}

std::string Transcript::append(const TranscriptEntry& entry) {
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    json line = {
        {"seq", m_seq + 1},
        {"time", tuf::format_expiry(now)},
        {"operator", m_operator},
        {"step", entry.step},
        {"tokens", entry.token_serials},
        {"keys", entry.key_ids},
        {"details", entry.details.is_null() ? json::object() : entry.details},
        {"prev", m_last_hash},
    };
    const std::string hash = hash_without_hash(line);
    line["hash"] = hash;
    const std::string text = tuf::canonical_json(line) + "\n";
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(m_fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write", errno, m_path.string());
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(m_fd.get()) != 0) throw_errno("fsync", errno, m_path.string());
    ++m_seq;
    m_last_hash = hash;
    m_history.push_back(std::move(line));
    return hash;
}

} // namespace trustkey::ceremony
