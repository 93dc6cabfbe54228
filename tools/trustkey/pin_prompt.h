// Reading secrets (PINs, passphrases) and confirmations from the user.
// Secrets stay in SecureBytes, and every buffer that held one is wiped.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>

#include "lib/core/secure_bytes.h"

namespace trustkey::tools {

inline constexpr std::size_t kMaxSecretLength = 1024;

// True when standard input is a terminal.
bool stdin_is_terminal() noexcept;

// The value of the first set, non-empty variable of `names`.
std::optional<SecureBytes> secret_from_env(std::initializer_list<const char*> names);

// When stdin is a terminal: writes `prompt` to /dev/tty and reads one line with echo
// off. Otherwise reads one line from stdin without a prompt. The line end is dropped.
// Throws Failure when nothing could be read (end of input, interrupted, too long).
SecureBytes read_secret(const std::string& prompt);
// The same; when stdin is no terminal and holds nothing, the error is `no_input` (which
// names the secret and where else it may come from) instead of "nothing to read".
SecureBytes read_secret(const std::string& prompt, const std::string& no_input);

// Asks `question` on /dev/tty; true only for an answer starting with 'y' or 'Y'.
bool ask_yes_no(const std::string& question);

} // namespace trustkey::tools
