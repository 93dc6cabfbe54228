#include "daemon/server/pin_purpose.h"

namespace trustkey::server {

namespace {

namespace pb = proto::pb;

constexpr std::size_t kMaxShown = 80;

// A client's text as the prompt may show it: one line, bounded.
std::string shown(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    if (s.size() > kMaxShown) s = s.substr(0, kMaxShown) + "...";
    return s;
}

std::string key_phrase(const std::string& ref, const backend::KeyRing::Entry* resolved) {
    if (resolved && resolved->info) {
        const auto& info = *resolved->info;
        return "key " + shown(info.name.empty() ? info.id : info.name) + " (" + info.id.substr(0, 12) + ")";
    }
    return "key " + shown(ref);
}

} // namespace

std::optional<std::string> pin_purpose_of(const pb::Request& request, const backend::KeyRing::Entry* resolved) {
    using Body = pb::Request::BodyCase;
    switch (request.body_case()) {
    case Body::kSign: return "sign with " + key_phrase(request.sign().key(), resolved);
    case Body::kSignBatch:
        return "sign " + std::to_string(request.sign_batch().items_size()) + " items with " +
               key_phrase(request.sign_batch().key(), resolved);
    case Body::kGetPublicKey: return "read the public " + key_phrase(request.get_public_key().key(), resolved);
    case Body::kDeleteKey: return "delete " + key_phrase(request.delete_key().key(), resolved);
    case Body::kAnnotateKey: return "record the uses of " + key_phrase(request.annotate_key().key(), resolved);
    case Body::kGenerateKey: return "generate key " + shown(request.generate_key().name());
    case Body::kImportKey: return "import key " + shown(request.import_key().name());
    case Body::kListKeys: return std::string("list the keys");
    default: return std::nullopt;
    }
}

} // namespace trustkey::server
