// trustkeyd's PinAsker: asks through the user's pinentry program (lib/pinentry),
// naming the token and what the PIN is for. The terminal and display are trustkeyd's
// own: GPG_TTY (ttyname), TERM, LC_CTYPE / LC_ALL and DISPLAY from its environment,
// which the program also inherits (WAYLAND_DISPLAY, XAUTHORITY …).
#pragma once

#include <chrono>
#include <string>

#include "lib/backend/pin_asker.h"
#include "lib/pinentry/pinentry_session.h"

namespace trustkey::server {

// `program`: a path or a name looked up in PATH. The asker throws pin_required when the
// program cannot be run or fails (the message says why), and returns nullopt on cancel.
backend::PinAsker make_pinentry_asker(std::string program, std::chrono::seconds timeout);

// How trustkeyd runs `program`: its terminal and display from trustkeyd's environment,
// `timeout` for the user's answer.
pinentry::PinentryOptions pinentry_options(const std::string& program, std::chrono::seconds timeout);

// The text pinentry shows (SETDESC).
std::string pinentry_description(const backend::PinQuestion& question);

} // namespace trustkey::server
