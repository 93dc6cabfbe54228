// The online side's targets key for ceremony tests: a key on its own SoftHSM2 token
// ("online", made beside the others), opened in-process.
#pragma once

#include <memory>
#include <string>

#include "daemon/backend/backend.h"

namespace trustkey::test {

class OnlineTargetsKey {
public:
    OnlineTargetsKey();
    std::string public_pem() const;
    // targets.json version 1, no targets, signed by this key.
    std::string targets_file();

private:
    std::unique_ptr<backend::Backend> m_backend;
    backend::KeyInfo m_key;
};

} // namespace trustkey::test
