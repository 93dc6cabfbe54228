#include "daemon/server/reply_observer.h"

#include <algorithm>
#include <span>

#include "lib/core/encoding.h"
#include "lib/core/log.h"

namespace trustkey::server {

namespace {

constexpr std::size_t kPrefixBytes = 8;

std::string prefix_of(const std::string& data) {
    const auto n = std::min(data.size(), kPrefixBytes);
    return to_hex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()), n));
}

} // namespace

std::vector<std::string> digest_prefixes(const pb::Request& request) {
    std::vector<std::string> out;
    if (request.has_sign()) {
        out.push_back(prefix_of(request.sign().data()));
    } else if (request.has_sign_batch()) {
        out.reserve(static_cast<std::size_t>(request.sign_batch().items_size()));
        for (const auto& item : request.sign_batch().items()) out.push_back(prefix_of(item));
    }
    return out;
}

void notify_reply(ReplyObserver& observer, const pb::Response& response, const Caller& caller,
                  const std::vector<std::string>& prefixes) noexcept {
    if (response.status() != pb::STATUS_OK) return;
    try {
        using Body = pb::Response::BodyCase;
        switch (response.body_case()) {
        case Body::kSign: observer.signature_made({response.sign().key_id(), caller, prefixes}); break;
        case Body::kSignBatch: observer.signature_made({response.sign_batch().key_id(), caller, prefixes}); break;
        case Body::kGenerateKey:
        case Body::kImportKey:
        case Body::kDeleteKey:
        case Body::kLogin:
        case Body::kAnnotateKey: observer.keys_changed(); break;
        case Body::kLock: observer.lock_changed(true); break;
        case Body::kUnlock: observer.lock_changed(false); break;
        default: break;
        }
    } catch (const std::exception& e) {
        spdlog::warn("event=reply_observer_failed error={}", log::quoted(e.what()));
    } catch (...) {
        spdlog::warn("event=reply_observer_failed");
    }
}

} // namespace trustkey::server
