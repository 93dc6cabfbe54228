// Registry credentials: a user name and a secret (password or token).
#pragma once

#include <string>

#include "lib/core/secure_bytes.h"

namespace trustkey::registry {

struct Credentials {
    std::string username;
    SecureBytes password;
    // An OAuth refresh token docker stored instead of a password ("identitytoken",
    // or a helper answering Username "<token>"); empty when none.
    SecureBytes identity_token;
};

} // namespace trustkey::registry
