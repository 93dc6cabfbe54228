// The online side's targets key in ceremony tests: a key on a SoftHSM2 token of its own
// ("online", beside the tokens of the first SoftHsmToken, which must exist), opened
// in-process, and a targets.json it signs for the notary server.
#pragma once

#include <memory>
#include <string>

#include "lib/backend/backend.h"
#include "tests/fixtures/process.h"

namespace trustkey::test {

class NotaryServer;

// What the real notary client saw of a repository published from a ceremony's root.json.
struct NotaryListing {
    ProcessResult list;       // `notary list GUN` in a fresh trust directory
    std::string pinned_root;  // the root.json it trusted on first use (empty if none)
};

class OnlineTargetsKey {
public:
    OnlineTargetsKey();
    std::string public_pem() const;
    // targets.json version 1, no targets, signed by this key.
    std::string targets_file();
    // Publishes `root_json` with targets_file() to `server` for `gun`, then lists the
    // repository with the real notary client.
    NotaryListing publish_and_list(const NotaryServer& server, const std::string& gun, const std::string& root_json);

private:
    std::unique_ptr<backend::Backend> m_backend;
    backend::KeyInfo m_key;
};

} // namespace trustkey::test
