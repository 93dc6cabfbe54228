// Asking the user for a token's PIN when no PIN source is configured (trustkeyd
// asks through the user's pinentry program): what is asked, and what for.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/locked_bytes.h"

namespace trustkey::backend {

struct PinQuestion {
    std::string token;    // the token's label
    std::string serial;   // its serial number
    std::string purpose;  // what the PIN is for: which key, which operation (PinPurpose)
    std::string error;    // why it is asked again ("the PIN was wrong; …"); empty the first time
};

// The PIN the user gave, or nullopt when they cancelled. Throws Error when nobody can be
// asked (the program is missing, hangs or breaks).
using PinAsker = std::function<std::optional<LockedBytes>(const PinQuestion&)>;

// What the work on this thread needs a PIN for ("sign with key releases"), set for
// the length of a request. A backend asks the user only while one is set, and at most
// once per token while it is: work no one waits on (a status query) never brings up a
// PIN prompt, and a request that looks at a token several times asks once.
class PinPurpose {
public:
    explicit PinPurpose(std::string what);
    PinPurpose(const PinPurpose&) = delete;
    PinPurpose& operator=(const PinPurpose&) = delete;
    ~PinPurpose();

    // The innermost purpose set on this thread; nullopt when none is.
    static std::optional<std::string> current();
    // True the first time it is called for `token` under the current purpose (and
    // records it); false after that, and when no purpose is set.
    static bool first_ask(const std::string& token);

    struct State {
        std::optional<std::string> what;
        std::vector<std::string> asked;  // tokens asked under it
    };

private:
    State m_outer;
};

} // namespace trustkey::backend
