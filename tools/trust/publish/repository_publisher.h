// Publishes changes to one repository as the notary client does, keeping the local
// trust directory's cache (<trust dir>/tuf/<gun>/metadata) in step:
//   1. the repository is fetched and verified against the cache (Updater::verify: root
//      chain from the cached root, trust on first use without one, rollback, hashes …);
//   2. the change function runs on a TargetsUpdate based on that verified data;
//   3. the changed files are signed and published;
//   4. after a successful publish a verified update brings the cache up to date
//      (Updater::update). A failed verification or publish leaves the cache as it was.
// When the server refuses the upload because another writer published since step 1
// (400 VERSION, or INVALID_UPDATE with ErrBadSnapshot / ErrBadHierarchy), steps 1-3
// run again with the same change function after a short jittered pause, up to
// RetryPolicy::max_attempts times in all.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "lib/core/error.h"
#include "tools/trust/client/trust_data.h"
#include "tools/trust/notary/notary_client.h"
#include "tools/trust/publish/repository_init.h"
#include "tools/trust/publish/targets_update.h"
#include "trustkey/proto/client.h"

namespace trustkey::trust {

struct RetryPolicy {
    int max_attempts = 5;
    // Before retry n (1, 2 …) the publisher waits n × pause × a random factor in [0.5, 1.5).
    std::chrono::milliseconds pause{100};
};

// Whether the server refused an upload because the repository changed under it.
bool is_concurrent_update(const Error& e);

class RepositoryPublisher {
public:
    // Makes the changes of one attempt; it may run several times, each time on a fresh
    // update, so it must only act through the TargetsUpdate it is given.
    using Change = std::function<void(TargetsUpdate&)>;

    // `agent` and `server` must outlive the publisher.
    RepositoryPublisher(proto::Client& agent, notary::NotaryClient& server, std::filesystem::path trust_dir,
                        RetryPolicy policy = {});

    // Whether the server has a root.json for the repository.
    bool exists();
    // Initializes the repository (RepositoryInit) and starts its cache afresh with the
    // files published. Returns nullopt when another writer initialized it first (the
    // server refused ours and now has a root.json). Refuses (refuse_untrusted_init)
    // when the cache trusts the repository, unless options.replace_trusted.
    std::optional<InitializedRepository> initialize(const RepositoryInitOptions& options = {});
    // Throws Error(denied), with one line saying so and naming --force-init, when the
    // trust directory's cache holds a root.json for the repository and
    // options.replace_trusted is not set: a repository this machine trusts is never
    // initialized anew without being asked to (unless the server has it by now).
    void refuse_untrusted_init(const RepositoryInitOptions& options);
    // The repository as the server holds it, verified against the cache (not written).
    // Throws the Updater's errors.
    TrustData verified();

    // Runs steps 1-4 with retries; returns role -> bytes published (empty when `change`
    // changed nothing; then nothing is uploaded and the cache is left alone). Throws what
    // `change`, the verification or the publish throws; after max_attempts concurrent
    // refusals, an Error naming the GUN, the server and the last refusal.
    std::map<std::string, std::string> publish(const Change& change);

    // Attempts the last publish() made (1 when the first one went through).
    int attempts() const noexcept { return m_attempts; }

private:
    void pause_before_retry(int retry) const;

    proto::Client& m_agent;
    notary::NotaryClient& m_server;
    std::filesystem::path m_trust_dir;
    RetryPolicy m_policy;
    int m_attempts = 0;
};

} // namespace trustkey::trust
