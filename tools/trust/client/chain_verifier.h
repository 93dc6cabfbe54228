// The checks of a TUF update, one role at a time, over the raw bytes the server sent.
// Each check parses the file, checks its type, its signatures against the keys and
// threshold of the role that vouches for it, its expiry, its hash and length against
// the file that lists it, and that its version does not go back from the cached one.
// Failures throw trustkey::Error naming the role (see update_failure.h); a file that
// does not parse throws Error(malformed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tools/trust/client/root_certificate_policy.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/file_meta.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/snapshot.h"
#include "tools/trust/tuf/targets.h"
#include "tools/trust/tuf/timestamp.h"

namespace trustkey::trust {

tuf::Expiry expiry_now();

class ChainVerifier {
public:
    explicit ChainVerifier(std::string gun, tuf::Expiry now = expiry_now());

    const std::string& gun() const noexcept { return m_policy.gun(); }
    tuf::Expiry now() const noexcept { return m_now; }

    // A root trusted on first use (or the cached root kept as it is): signed to its own
    // threshold by its own usable root certificates, unexpired, certificates in date.
    tuf::Root trusted_root(std::string_view bytes) const;
    // The root that follows `previous`: version previous + 1, signed to the previous
    // root's threshold by the previous root's certificates and to its own threshold by
    // its own. When `latest`, it must also be unexpired with certificates in date
    // (roots passed on the way may have expired since).
    tuf::Root next_root(const tuf::Root& previous, std::string_view bytes, bool latest) const;

    tuf::Timestamp timestamp(const tuf::Root& root, std::string_view bytes,
                             std::optional<std::int64_t> cached_version) const;
    // `bytes` must match the snapshot entry of `timestamp`.
    tuf::Snapshot snapshot(const tuf::Root& root, std::string_view bytes, const tuf::Timestamp& timestamp,
                           std::optional<std::int64_t> cached_version) const;
    // `bytes` must match the "targets" entry of `snapshot`.
    tuf::Targets targets(const tuf::Root& root, std::string_view bytes, const tuf::Snapshot& snapshot,
                         std::optional<std::int64_t> cached_version) const;
    // A delegation `role`, a direct child of `parent_role` whose file is `parent`, which
    // must delegate it; `bytes` must match the snapshot's entry for it.
    tuf::Targets delegation(const tuf::Targets& parent, std::string_view parent_role, const std::string& role,
                            std::string_view bytes, const tuf::Snapshot& snapshot,
                            std::optional<std::int64_t> cached_version) const;

    // Checks `bytes` against the entry `listed` that `listed_by` holds for `role`: length
    // first, then every sha256/sha512 hash. Throws length_mismatch or hash_mismatch.
    static void check_file(std::string_view role, std::string_view bytes, const tuf::FileMeta& listed,
                           std::string_view listed_by);
    // Throws rollback when `served` is below `cached`.
    static void check_version(std::string_view role, std::int64_t served, std::optional<std::int64_t> cached);
    // Checks type, then expiry (when `check_expiry`), then that `keys` give `threshold`
    // valid signatures. Throws wrong_type, expired or threshold ("k of n").
    void check_signatures(const tuf::Signed& file, const tuf::KeyMap& keys, std::int64_t threshold,
                          bool check_expiry) const;

private:
    tuf::Signed parse(std::string_view bytes, const std::string& role) const;

    RootCertificatePolicy m_policy;
    tuf::Expiry m_now;
};

} // namespace trustkey::trust
