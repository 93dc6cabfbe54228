// The online side's targets key in ceremony tests: a key on a SoftHSM2 token of its own
// ("online", beside the tokens of the first SoftHsmToken, which must exist), opened
// in-process, and a targets.json it signs for the notary server.
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
