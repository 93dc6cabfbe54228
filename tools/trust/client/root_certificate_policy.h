// Which root keys count, as notary decides it: a root key must be an x509 certificate
// whose PEM holds exactly one leaf (not a CA), first; its common name is the GUN (or
// ends in '*' and the GUN starts with what precedes it); it is not signed with SHA-1
// or MD5; an RSA key has at least 2048 bits; and it is valid now (NotBefore at most
// one day ahead, NotAfter still to come).
#pragma once

#include <chrono>
#include <string>

#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/key.h"
#include "tools/trust/tuf/key_set.h"
#include "tools/trust/tuf/root.h"

namespace trustkey::trust {

class RootCertificatePolicy {
public:
    explicit RootCertificatePolicy(std::string gun) : m_gun(std::move(gun)) {}

    const std::string& gun() const noexcept { return m_gun; }

    // Why `key` does not count as a root key at `now`; empty when it does. With
    // `check_dates` false the validity period is not looked at (a previous root's keys
    // still count for the root that replaces it).
    std::string problem(const tuf::Key& key, tuf::Expiry now, bool check_dates) const;

    // The keys root's "root" role lists that count. Throws update_error(certificate)
    // naming each refused key and why when none counts.
    tuf::KeyMap trusted_root_keys(const tuf::Root& root, tuf::Expiry now, bool check_dates) const;

    // True when a certificate's common name `cn` stands for `gun`.
    static bool cn_matches_gun(std::string_view cn, std::string_view gun) noexcept;

private:
    std::string m_gun;
};

} // namespace trustkey::trust
