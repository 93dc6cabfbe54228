// One token taking part in a ceremony: its PKCS#11 backend (opened directly, no daemon),
// what it says about itself, and the login with a PIN from the environment or a prompt.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "daemon/backend/backend.h"

namespace trustkey::ceremony {

// Where PINs come from, per token (1-based position on the command line):
// $TRUSTKEY_CEREMONY_PIN_<n>, else $TRUSTKEY_CEREMONY_PIN, else a no-echo prompt on the
// terminal (or one line of standard input when it is not a terminal). PINs are never echoed,
// logged or written to the transcript.
inline constexpr const char* kPinEnv = "TRUSTKEY_CEREMONY_PIN";

class CeremonyToken {
public:
    // Opens the token `uri` in `module`. Throws Error(token_absent) naming the URI when no
    // present token matches it.
    CeremonyToken(const std::filesystem::path& module, std::string uri, std::size_t position);

    // Logs in with the PIN for this token. A refused PIN throws Error(pin_incorrect) naming
    // the token and saying what the token reports about the tries left; a locked PIN
    // Error(pin_locked). The PIN is not tried again.
    void login();

    backend::Backend& backend() noexcept { return *m_backend; }
    const std::string& uri() const noexcept { return m_uri; }
    const std::string& serial() const noexcept { return m_serial; }
    const std::string& label() const noexcept { return m_label; }
    // "token LABEL (serial S)", for messages and prompts.
    std::string description() const;

private:
    std::string m_uri;
    std::size_t m_position;
    std::unique_ptr<backend::Backend> m_backend;
    std::string m_serial;
    std::string m_label;
};

} // namespace trustkey::ceremony
