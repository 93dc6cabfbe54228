// `root generate`: an ECDSA P-256 root key on each token and a self-signed certificate
// for it (CN = GUN), written with the public keys and root-keys.json into a new directory.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tools/ceremony/ceremony_token.h"
#include "tools/ceremony/root_keys.h"
#include "tools/ceremony/transcript.h"

namespace trustkey::ceremony {

struct RootGenerateOptions {
    std::string gun;
    std::int64_t threshold = 1;
    std::chrono::seconds validity = std::chrono::hours(24 * 365 * 10);
    std::string key_name;               // empty: "root-" + the first 8 hex digits of SHA-256(gun)
    std::filesystem::path out_dir;      // must not hold a root-keys.json yet
    // Use a key of that name a token already holds when the transcript records it as made
    // for this GUN by an earlier, interrupted run (a new certificate is made for it).
    bool resume = false;
    // Keys that stay on their token (non-extractable) instead of keys `backup` can copy.
    bool no_backup = false;
};

// The key name used when none is given.
std::string default_root_key_name(const std::string& gun);

// Checks the options before any token is touched: GUN, threshold against the number of
// tokens, out_dir. Throws Error(invalid_argument) with one line.
void check_root_generate(const RootGenerateOptions& options, std::size_t token_count);

// Every token must be logged in. Checks first that no token already holds a key of that
// name (unless resuming, see above), then generates the keys one token after another; each
// key is recorded in the transcript as soon as it exists, and again with its certificate.
// root-keys.json is written last: without it the output directory is incomplete.
RootKeys root_generate(const RootGenerateOptions& options, std::vector<CeremonyToken>& tokens, Transcript& transcript);

struct RootCertifyOptions {
    std::filesystem::path keys_dir;     // root-keys.json of the keys' first repository
    std::string gun;                    // the other repository
    std::int64_t threshold = 0;         // 0: that of keys_dir
    std::chrono::seconds validity = std::chrono::hours(24 * 365 * 10);
    std::filesystem::path out_dir;      // must not hold a root-keys.json yet
};

// `root certify`: notary pins a root certificate's CN to the GUN, so using the same root
// keys for another repository takes a certificate per key for that GUN. Each token (logged
// in) must hold one of the keys of keys_dir; the new directory lists those keys with the new
// certificates, as `root generate` would have, for `root sign`.
RootKeys root_certify(const RootCertifyOptions& options, std::vector<CeremonyToken>& tokens, Transcript& transcript);

} // namespace trustkey::ceremony
