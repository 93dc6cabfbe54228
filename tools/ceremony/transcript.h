// The ceremony transcript: one JSON object a line, each holding the hash of the line
// before it, appended and fsync'd as each step ends.
//
// A line (canonical JSON, keys sorted):
//   {"details":{…},"hash":H,"keys":[key ids],"operator":NAME,"prev":P,"seq":N,
//    "step":STEP,"time":"YYYY-MM-DDTHH:MM:SSZ","tokens":[token serials]}
// H is the lower-case hex SHA-256 of the canonical JSON of the line without "hash";
// P is the previous line's H (64 zeros on line 1); N counts lines from 1. An edited line
// no longer matches its own H; a removed or reordered line breaks N or P.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/unique_fd.h"

namespace trustkey::ceremony {

struct TranscriptEntry {
    std::string step;
    std::vector<std::string> token_serials;
    std::vector<std::string> key_ids;
    nlohmann::json details = nlohmann::json::object();  // null is written as {}
};

// Checks the whole chain of the file at `path`. Returns its lines, parsed. Throws
// Error(malformed) naming the file and the first bad line: not JSON, missing fields,
// its hash not matching its content (edited), a wrong sequence number or previous hash
// (a line removed, inserted or reordered), or no line end (an interrupted write).
std::vector<nlohmann::json> verify_transcript(const std::filesystem::path& path);

class Transcript {
public:
    // Opens the transcript at `path` for appending, creating it (0600) when absent. An
    // existing one is checked with verify_transcript() first, and the ceremony goes on
    // from its last line. The file stays locked (flock) while this object lives; a second
    // writer gets Error(denied).
    Transcript(std::filesystem::path path, std::string operator_name);

    // Appends one line with one write() and fsyncs it. Returns the line's hash.
    std::string append(const TranscriptEntry& entry);

    const std::filesystem::path& path() const noexcept { return m_path; }
    std::size_t lines() const noexcept { return m_seq; }
    // The hash of the last line (kNoPreviousLine when there is none): what covers them all.
    const std::string& head() const noexcept { return m_last_hash; }
    // Every line so far, parsed (those found when it was opened, then those appended).
    const std::vector<nlohmann::json>& history() const noexcept { return m_history; }

private:
    std::filesystem::path m_path;
    std::string m_operator;
    UniqueFd m_fd;
    std::size_t m_seq = 0;
    std::string m_last_hash;
    std::vector<nlohmann::json> m_history;
};

inline const std::string kNoPreviousLine(64, '0');

} // namespace trustkey::ceremony
