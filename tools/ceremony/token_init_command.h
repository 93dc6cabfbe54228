// `token list` and `token init`: the module's slots, and setting a token up for a
// ceremony (label, SO PIN, user PIN) after a clear confirmation when it would erase keys.
#pragma once

#include <cstdint>
#include <string>

namespace trustkey::ceremony {

class CeremonyContext;

inline constexpr const char* kSoPinEnv = "TRUSTKEY_CEREMONY_SO_PIN";
inline constexpr const char* kNewPinEnv = "TRUSTKEY_CEREMONY_NEW_PIN";

struct TokenInitOptions {
    std::uint64_t slot = 0;
    std::string label;
    bool yes = false;  // erase an initialized token without asking
};

// Prints the slots holding a token: id, initialized or not, label, serial, model.
void print_token_slots(CeremonyContext& context);

// SO PIN from $TRUSTKEY_CEREMONY_SO_PIN, else asked; the new user PIN from
// $TRUSTKEY_CEREMONY_NEW_PIN, else asked twice. An initialized token is erased only with
// `yes` or a "y" typed at the terminal; otherwise Error(denied) and nothing changes.
void token_init(const TokenInitOptions& options, CeremonyContext& context);

} // namespace trustkey::ceremony
