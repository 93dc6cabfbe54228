// Signatures of the transcript by the root keys. A "transcript signature" line holds, in
// its details, the hash of the line before it (the head, which covers every earlier line
// through the chain) and one TUF-style signature per root key:
//   {"head":H,"head_seq":N,"signatures":[{"keyid":X509_ID,"method":"ecdsa","sig":B64}…]}
// Each signature is ECDSA P-256 over SHA-256 of the 64 ASCII hex digits of H.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/ceremony/root_keys.h"

namespace trustkey::ceremony {

class CeremonyContext;

inline constexpr const char* kTranscriptSignatureStep = "transcript signature";

// Signs the transcript's head with the root key on each token and appends the signature
// line. Throws Error(not_found) for a token holding none of the keys.
void sign_transcript(const std::filesystem::path& keys_dir, const std::vector<std::string>& tokens,
                     CeremonyContext& context);

struct TranscriptSignatures {
    std::size_t covered_lines = 0;        // lines up to the last signature line's head
    std::size_t total_lines = 0;
    std::vector<std::string> valid_keys;  // x509 ids that signed that head
    std::int64_t threshold = 1;
};

// Checks every signature line of a chain verify_transcript() accepted, against the root
// keys of `keys`. Throws Error(malformed) naming the line for a signature that does not
// verify or a key that is not a root key, Error(denied) when the transcript has no
// signature line or the last one has fewer valid signatures than the threshold.
TranscriptSignatures check_transcript_signatures(const std::filesystem::path& path,
                                                 const std::vector<nlohmann::json>& lines, const RootKeys& keys,
                                                 const std::filesystem::path& keys_dir);

} // namespace trustkey::ceremony
