// root-keys.json: what `root generate` made, read back by `root sign`.
//   {"gun":G,"threshold":K,"keys":[{"token_serial","token_label","key_name","key_id",
//     "x509_key_id","certificate":"root-1.crt","public_key":"root-1.pub",
//     "backup_allowed":B, "backups":[{"token_serial","token_label"}…]}…]}
// key_id is the token key's TUF id (its SPKI); x509_key_id the id root.json lists the
// certificate under. The file names are relative to the file's directory. backup_allowed
// (absent in files of older versions) says whether the key was made to be copied to other
// tokens; backups lists the tokens `backup` copied it to (absent when none).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tools/trust/tuf/key.h"

namespace trustkey::ceremony {

inline constexpr const char* kRootKeysFile = "root-keys.json";

struct BackupCopy {
    std::string token_serial;
    std::string token_label;
};

struct RootKeyRecord {
    std::string token_serial;
    std::string token_label;
    std::string key_name;
    std::string key_id;
    std::string x509_key_id;
    std::string certificate;  // file name
    std::string public_key;   // file name
    std::optional<bool> backup_allowed;  // nullopt: not recorded
    std::vector<BackupCopy> backups;
};

struct RootKeys {
    std::string gun;
    std::int64_t threshold = 1;
    std::vector<RootKeyRecord> keys;

    std::string to_json_text() const;
    // Reads DIR/root-keys.json and each certificate, checking that every certificate is the
    // key recorded (its x509 id; else Error(malformed)) and one notary counts as a root key
    // of the GUN now: CN = GUN, valid today (else Error(bad_key_format) naming the file).
    static RootKeys load(const std::filesystem::path& dir);
};

// The ecdsa-x509 key of a root certificate file; throws Error(bad_key_format) naming it.
tuf::Key load_certificate_key(const std::filesystem::path& path);

} // namespace trustkey::ceremony
