// The embedded default: a SoftHSM2 token that trustkey creates for itself on
// first start when no hardware is configured, and reuses afterwards.
#pragma once

#include <filesystem>

#include "lib/backend/pkcs11/pkcs11_config.h"

namespace trustkey::backend::pkcs11 {

inline constexpr const char* kEmbeddedTokenLabel = "trustkey";

// `data_dir` is $XDG_DATA_HOME/trustkey (default ~/.local/share/trustkey). Creates, 0700,
// `softhsm2.conf`, `tokens/`, and `pins` (0600: random user and SO PIN), initializes a token
// labelled "trustkey" through the module, and sets SOFTHSM2_CONF for this process.
// Returns the config of a backend named "trustkey" reading the user PIN from `pins`.
Pkcs11Config ensure_embedded_token(const std::filesystem::path& data_dir,
                                   const std::filesystem::path& softhsm_module);

// $XDG_DATA_HOME/trustkey, or ~/.local/share/trustkey.
std::filesystem::path default_data_dir();

} // namespace trustkey::backend::pkcs11
