// One token taking part in a ceremony: a PKCS#11 token or the machine's TPM, opened through
// the backend library directly (no daemon), what it says about itself, and the login with a
// PIN (or a TPM key's authorization value) from the environment or a prompt.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "lib/backend/backend.h"
#include "lib/core/encoding.h"

namespace trustkey::ceremony {

// Where PINs come from, per token (1-based position on the command line):
// $TRUSTKEY_CEREMONY_PIN_<n>, else $TRUSTKEY_CEREMONY_PIN, else a no-echo prompt on the
// terminal (or one line of standard input when it is not a terminal). PINs are never echoed,
// logged or written to the transcript.
inline constexpr const char* kPinEnv = "TRUSTKEY_CEREMONY_PIN";

// `--token tpm` names the machine's TPM 2.0. Its TCTI: --tpm, else $TRUSTKEY_TPM_TCTI, else
// the kernel's resource manager. Its keys are blobs in a state directory, usable only on it.
inline constexpr const char* kTpmToken = "tpm";
inline constexpr const char* kTpmTctiEnv = "TRUSTKEY_TPM_TCTI";
inline constexpr const char* kDefaultTpmTcti = "device:/dev/tpmrm0";

struct TpmLocation {
    std::string tcti;
    std::filesystem::path state_dir;
};

class CeremonyToken {
public:
    // Opens the token `uri` in `module`. Throws Error(token_absent) naming the URI when no
    // present token matches it.
    CeremonyToken(const std::filesystem::path& module, std::string uri, std::size_t position);
    // Opens the TPM (ceremony_tpm.cpp). Its serial is the Name of its storage primary, its
    // label "TPM <manufacturer>". Throws Error(token_absent) naming the TCTI when it is
    // unreachable, Error(pin_locked) when it is in dictionary-attack lockout.
    CeremonyToken(const TpmLocation& tpm, std::size_t position);

    // Logs in with the PIN for this token. A refused PIN throws Error(pin_incorrect) naming
    // the token and saying what the token reports about the tries left; a locked PIN
    // Error(pin_locked). The PIN is not tried again. A TPM takes no PIN: its keys' own
    // authorization values are asked when a key is made or first used.
    void login();

    // A new ECDSA P-256 key named `name`; on a PKCS#11 token `wrappable` makes it copyable
    // to another token by `backup` (sensitive, wrappable only with trusted keys). On a TPM
    // the key gets the authorization value from the PIN sources (asked twice at a terminal;
    // empty: none) and `wrappable` does not apply.
    backend::KeyInfo generate_key(std::string_view name, bool wrappable);
    // Signs a SHA-256 digest with `key`. A TPM key with an authorization value of its own
    // has it asked (PIN sources) on first use; a refused value throws Error(pin_incorrect)
    // naming the key and is not sent again.
    Bytes sign(const backend::KeyInfo& key, std::span<const std::uint8_t> digest);

    backend::Backend& backend() noexcept { return *m_backend; }
    const std::string& uri() const noexcept { return m_uri; }
    const std::string& serial() const noexcept { return m_serial; }
    const std::string& label() const noexcept { return m_label; }
    bool is_tpm() const noexcept { return m_tpm.has_value(); }
    // The TPM's TCTI and state directory; only for is_tpm().
    const TpmLocation& tpm() const { return m_tpm.value(); }
    // "token LABEL (serial S)" or "TPM MANUFACTURER at TCTI (primary P)", for messages and prompts.
    std::string description() const;

private:
    // The secret for this token: $TRUSTKEY_CEREMONY_PIN_<n>, $TRUSTKEY_CEREMONY_PIN, else `prompt`.
    SecureBytes secret(const std::string& prompt) const;
    backend::KeyInfo generate_tpm_key(std::string_view name);
    Bytes sign_tpm(const backend::KeyInfo& key, std::span<const std::uint8_t> digest);

    std::string m_uri;
    std::size_t m_position;
    std::optional<TpmLocation> m_tpm;
    std::unique_ptr<backend::Backend> m_backend;
    std::string m_serial;
    std::string m_label;
};

} // namespace trustkey::ceremony
