// Configuration of one TPM 2.0 backend, and its factory. Free of TSS headers so
// the daemon and tools can include it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "lib/backend/backend.h"

namespace trustkey::backend::tpm2 {

// Where the keys' authorization value comes from (the same value for every key of the
// backend); none: keys without one.
struct AuthSource {
    enum class Kind { none, env, file };
    Kind kind = Kind::none;
    std::string ref;  // variable name or file path (its first line)
};

struct Tpm2Config {
    std::string name;                     // backend instance name, unique in the daemon
    std::string tcti;                     // "device:/dev/tpmrm0", "tabrmd", "swtpm:host=…,port=…"
    std::filesystem::path state_dir;      // where key blobs are kept (created 0700)
    std::optional<std::uint32_t> parent;  // persistent handle (0x81xxxxxx) of the storage primary
    AuthSource key_auth;                  // set on keys made or loaded; used through a salted HMAC session
    std::size_t loaded_keys = 2;          // keys kept loaded between signatures (0: load, sign, flush);
                                          // with the storage primary, within the 3 object slots most TPMs have
};

// Opens the state directory (throws config or io when it cannot be made). An unreachable
// TPM does not throw here: status() and each operation report it, and the next operation
// connects again.
std::unique_ptr<Backend> make_tpm2_backend(const Tpm2Config& config);

// The identity of the TPM behind a backend from make_tpm2_backend: the Name of its storage
// primary (SHA-256 of the primary's public area, 64 hex digits without the algorithm
// prefix). The primary is derived from the owner seed, so this stays the same across
// restarts until the owner hierarchy is cleared. Throws like the backend's operations
// (token_absent when the TPM is unreachable); invalid_argument for another kind of backend.
std::string storage_primary_name(Backend& backend);

// The default state directory of a TPM backend: $XDG_DATA_HOME/trustkey/tpm2/<name>.
std::filesystem::path default_tpm2_state_dir(const std::string& name);

} // namespace trustkey::backend::tpm2
