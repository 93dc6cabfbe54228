// Brings the local TUF metadata of one repository up to date from a notary server and
// returns it verified (the pull side of `trustkey trust`):
//   1. root: the cached root is trusted; without one the server's root is trusted on
//      first use. A newer root on the server is reached one version at a time, each
//      N.root.json checked against the previous root and against itself. A root of
//      the cached version with other bytes is a replaced root, not a rotation, and is
//      refused.
//   2. timestamp, then the snapshot it names (by sha256), then targets and every
//      delegation reachable from targets that the snapshot lists, each checked against
//      the file that lists it (entries no verified role delegates are skipped).
//   3. Only when the whole chain holds are the files written to the cache; a failed
//      update leaves the cache as it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "tools/trust/client/chain_verifier.h"
#include "tools/trust/client/metadata_cache.h"
#include "tools/trust/client/trust_data.h"
#include "tools/trust/notary/notary_client.h"

namespace trustkey::trust {

class Updater {
public:
    // Most root versions walked in one update, and most delegation files loaded.
    static constexpr std::int64_t kMaxRootSteps = 1000;
    static constexpr std::size_t kMaxDelegations = 1000;

    // `client` serves the repository `client.gun()`; the cache lives under
    // <trust_dir>/tuf/<gun>/metadata. The client must outlive the updater.
    Updater(notary::NotaryClient& client, std::filesystem::path trust_dir);

    const MetadataCache& cache() const noexcept { return m_cache; }

    // Runs the update. Throws trustkey::Error: Errc::denied for a refused file (see
    // update_failure.h), Errc::malformed for a file that does not parse, Errc::io when
    // the server cannot be reached or the cache cannot be written, Errc::not_found when
    // the server has no trust data for the repository.
    TrustData update(tuf::Expiry now = expiry_now());
    // The same checks against the cache, without writing to it (a publisher bases its
    // changes on this and updates the cache only once its publish succeeded).
    TrustData verify(tuf::Expiry now = expiry_now());

private:
    std::string fetch_root(const ChainVerifier& verifier, TrustData& out);
    std::string fetch_listed(const std::string& role, const tuf::FileMeta& listed);
    std::optional<std::int64_t> cached_version(const std::string& role) const;
    void load_delegations(const ChainVerifier& verifier, TrustData& out);
    template <typename F>
    auto from_server(const std::string& what, F&& f) -> decltype(f());

    notary::NotaryClient& m_client;
    MetadataCache m_cache;
};

} // namespace trustkey::trust
