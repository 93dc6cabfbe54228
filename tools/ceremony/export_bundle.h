// `export`: the public bundle the online side gets — root.json, the root certificates and
// public keys, root-keys.json, the transcript, and bundle.json listing each file's SHA-256.
// The bundle appears whole or not at all: it is written to a temporary directory beside
// DIR, which is renamed to DIR at the end.
#pragma once

#include <filesystem>

namespace trustkey::ceremony {

class CeremonyContext;

inline constexpr const char* kBundleManifest = "bundle.json";
inline constexpr const char* kBundleTranscript = "transcript.jsonl";

struct ExportOptions {
    std::filesystem::path keys_dir;  // what `root generate` and `root sign` wrote
    std::filesystem::path root_json; // empty: keys_dir / "root.json"
    std::filesystem::path out_dir;   // must not exist
};

// Checks root.json against root-keys.json (its root role lists those certificates, with
// that threshold, and enough of them signed), records the export in the transcript, then
// writes the bundle. Throws Error(already_exists) when out_dir exists, Error(denied) when
// root.json does not verify.
void export_bundle(const ExportOptions& options, CeremonyContext& context);

} // namespace trustkey::ceremony
