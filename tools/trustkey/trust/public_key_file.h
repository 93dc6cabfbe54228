// A public key a publisher names on the command line (`signer add --key FILE`): a PUBLIC KEY
// PEM (headers such as "role: x" allowed, as docker writes them) or a certificate, read up
// to kMaxKeyFile; anything else is a one-line Failure naming the file.
#pragma once

#include <string>

#include "tools/trust/tuf/key.h"

namespace trustkey::tools::trust {

tuf::Key read_public_key(const std::string& path);

} // namespace trustkey::tools::trust
