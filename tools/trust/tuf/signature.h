// One entry of a TUF file's "signatures" list.
#pragma once

#include <string>

#include "lib/core/encoding.h"

namespace trustkey::tuf {

struct Signature {
    std::string keyid;  // the role's key id (for root keys, the x509 id)
    std::string method; // "ecdsa", "rsapss", "eddsa" (lower case)
    Bytes sig;          // raw signature bytes; base64 in the file
};

} // namespace trustkey::tuf
