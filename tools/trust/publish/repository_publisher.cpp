#include "tools/trust/publish/repository_publisher.h"

#include <random>
#include <thread>
#include <utility>

#include "tools/trust/client/metadata_cache.h"
#include "tools/trust/client/updater.h"
#include "tools/trust/tuf/role_name.h"

namespace trustkey::trust {

namespace {

constexpr long kHttpBadRequest = 400;

} // namespace

bool is_concurrent_update(const Error& e) {
    if (e.code() != kHttpBadRequest) return false;
    if (e.code_name() == "VERSION") return true;
    if (e.code_name() != "INVALID_UPDATE") return false;
    // The snapshot or a parent role this upload was made against is no longer current.
    const std::string& text = e.message();
    return text.find("(ErrBadSnapshot") != std::string::npos || text.find("(ErrBadHierarchy") != std::string::npos;
}

RepositoryPublisher::RepositoryPublisher(proto::Client& agent, notary::NotaryClient& server,
                                         std::filesystem::path trust_dir, RetryPolicy policy)
    : m_agent(agent), m_server(server), m_trust_dir(std::move(trust_dir)), m_policy(policy) {
    if (m_policy.max_attempts < 1) m_policy.max_attempts = 1;
}

bool RepositoryPublisher::exists() { return m_server.get_role(std::string(tuf::kRootRole)).has_value(); }

void RepositoryPublisher::refuse_untrusted_init(const RepositoryInitOptions& options) {
    if (options.replace_trusted) return;
    const MetadataCache cache(m_trust_dir, m_server.gun());
    if (!cache.read(std::string(tuf::kRootRole))) return;
    // Another writer sharing this trust directory may have initialized it since the
    // caller looked: then initialize() finds it on the server and uses it.
    if (exists()) return;
    throw Error(Errc::denied,
                "the notary server " + m_server.base_url() + " has no trust data for " + m_server.gun() +
                    ", a repository this machine trusts (cached in " + cache.dir().string() +
                    "); nothing was published (to start it anew with new keys on purpose, add --force-init; "
                    "clients that trusted the old root must then drop it)",
                0, {}, m_server.gun());
}

std::optional<InitializedRepository> RepositoryPublisher::initialize(const RepositoryInitOptions& options) {
    refuse_untrusted_init(options);
    std::optional<InitializedRepository> made;
    try {
        made = RepositoryInit(m_agent, m_server).run(options);
    } catch (const Error& e) {
        // Another writer may have initialized it between our check and our upload.
        if ((e.errc() == Errc::already_exists || e.code() == kHttpBadRequest) && exists()) return std::nullopt;
        throw;
    }
    // What we published is the repository now: it replaces whatever the cache held for
    // an earlier repository of that name.
    MetadataCache(m_trust_dir, m_server.gun()).replace(made->published);
    return made;
}

TrustData RepositoryPublisher::verified() { return Updater(m_server, m_trust_dir).verify(); }

void RepositoryPublisher::pause_before_retry(int retry) const {
    std::random_device seed;
    std::mt19937 random(seed());
    std::uniform_real_distribution<double> factor(0.5, 1.5);
    const auto wait = std::chrono::duration<double, std::milli>(m_policy.pause) * retry * factor(random);
    std::this_thread::sleep_for(wait);
}

std::map<std::string, std::string> RepositoryPublisher::publish(const Change& change) {
    for (m_attempts = 1;; ++m_attempts) {
        TargetsUpdate update(m_agent, m_server, verified());
        change(update);
        std::map<std::string, std::string> published;
        try {
            published = update.publish();
        } catch (const Error& e) {
            if (!is_concurrent_update(e)) throw;
            if (m_attempts >= m_policy.max_attempts) {
                Error out(e.errc(),
                          m_server.gun() + " on " + m_server.base_url() + " was updated concurrently " +
                              std::to_string(m_attempts) + " times in a row while publishing; gave up (last refusal: " +
                              std::to_string(e.code()) + " " + e.code_name() + ")",
                          e.code(), e.call(), m_server.gun());
                out.set_code_name(e.code_name());
                throw out;
            }
            pause_before_retry(m_attempts);
            continue;
        }
        if (published.empty()) return published;
        try {
            (void)Updater(m_server, m_trust_dir).update();
        } catch (const Error& e) {
            Error out(e.errc(),
                      "published to " + m_server.base_url() + ", but the trust directory's cache of " +
                          m_server.gun() + " could not be brought up to date: " + e.message(),
                      e.code(), e.call(), e.subject());
            out.set_code_name(e.code_name());
            throw out;
        }
        return published;
    }
}

} // namespace trustkey::trust
