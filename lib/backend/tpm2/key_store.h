// The state directory of a TPM backend: one file per key, named by its TUF key id, and
// beside it the key's metadata file when it has metadata.
// The directory is 0700 and each file 0600; files are written atomically (a
// temporary file in the same directory, fsync, rename, fsync of the directory).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lib/backend/key_metadata.h"
#include "lib/backend/tpm2/key_blob.h"
#include "lib/core/removal_watch.h"

namespace trustkey::backend::tpm2 {

class KeyStore {
public:
    struct Entry {
        std::string id;
        KeyBlob blob;
    };
    // A key file that cannot be read as a key.
    struct Damaged {
        std::string id;
        std::string name;  // from the file's header; empty when that is unreadable too
        std::string why;
    };

    // Creates the directory (0700) when missing; removes temporary files a crash left.
    // Throws io when it cannot be made or is not a directory.
    explicit KeyStore(std::filesystem::path dir);

    const std::filesystem::path& dir() const noexcept { return m_dir; }
    // Every well-formed key file; corrupt ones are skipped (and listed in `damaged`).
    std::vector<Entry> load_all(std::vector<Damaged>* damaged = nullptr) const;
    // The key with this id; nullopt when its file is missing; throws key_damaged naming
    // `subject` when it is corrupt.
    std::optional<KeyBlob> read(const std::string& id, const std::string& subject) const;
    // Writes the key's file; throws already_exists when it is there.
    void write(const std::string& id, const KeyBlob& blob) const;
    // Deletes the key's file and its metadata file; false when the key file was not there.
    bool remove(const std::string& id) const;
    // The key's metadata (key_metadata.h), kept beside its blob in <id>.meta.json and
    // written whole or not at all; empty when there is none. read_metadata throws
    // key_damaged naming `subject` when the file is unreadable.
    KeyMetadata read_metadata(const std::string& id, const std::string& subject) const;
    void write_metadata(const std::string& id, const KeyMetadata& meta) const;
    std::filesystem::path path_of(const std::string& id) const;
    // Whether the key's file is there.
    bool exists(const std::string& id) const;
    // True when a key file may have been removed since the last call (by another process
    // sharing the directory, or by hand): then check exists() for the keys that matter.
    // One non-blocking read; not thread-safe (the backend asks under its TPM lock).
    bool files_may_be_gone() { return m_removals.files_may_be_gone(); }

private:
    std::filesystem::path m_dir;
    RemovalWatch m_removals;  // set up once the directory exists
};

} // namespace trustkey::backend::tpm2
