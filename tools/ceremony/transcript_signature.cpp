#include "tools/ceremony/transcript_signature.h"

#include <map>
#include <set>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/ceremony/ceremony_context.h"

namespace trustkey::ceremony {

namespace {

using nlohmann::json;

[[noreturn]] void bad_line(const std::filesystem::path& path, std::size_t n, const std::string& why) {
    throw Error(Errc::malformed, path.string() + " line " + std::to_string(n) + ": " + why);
}

} // namespace

void sign_transcript(const std::filesystem::path& keys_dir, const std::vector<std::string>& tokens,
                     CeremonyContext& context) {
    const RootKeys keys = RootKeys::load(keys_dir);
    std::map<std::string, std::string> x509_by_key;
    for (const RootKeyRecord& r : keys.keys) x509_by_key.emplace(r.key_id, r.x509_key_id);

    // Tokens are opened (and recorded) first, so the head signed covers those lines too.
    std::vector<CeremonyToken> opened = context.open_tokens(tokens);
    const std::string head = context.transcript().head();
    const std::size_t head_seq = context.transcript().lines();
    json signatures = json::array();
    std::vector<std::string> ids, serials;
    for (CeremonyToken& token : opened) {
        bool any = false;
        for (const backend::KeyInfo& k : token.backend().list_keys()) {
            const auto it = x509_by_key.find(k.id);
            if (it == x509_by_key.end()) continue;
            const Bytes sig = token.sign(k, sha256(as_bytes(head)));
            signatures.push_back({{"keyid", it->second}, {"method", "ecdsa"}, {"sig", to_base64(sig)}});
            ids.push_back(it->second);
            any = true;
        }
        if (!any) throw Error(Errc::not_found, token.description() + " holds none of the root keys of " + keys.gun);
        serials.push_back(token.serial());
    }
    context.transcript().append(TranscriptEntry{
        kTranscriptSignatureStep, serials, ids,
        {{"gun", keys.gun}, {"head", head}, {"head_seq", head_seq}, {"signatures", signatures}}});
}

TranscriptSignatures check_transcript_signatures(const std::filesystem::path& path, const std::vector<json>& lines,
                                                 const RootKeys& keys, const std::filesystem::path& keys_dir) {
    std::map<std::string, tuf::Key> root_keys;
    for (const RootKeyRecord& r : keys.keys)
        root_keys.emplace(r.x509_key_id, load_certificate_key(keys_dir / r.certificate));

    TranscriptSignatures result;
    result.total_lines = lines.size();
    result.threshold = keys.threshold;
    bool any = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const json& line = lines[i];
        if (line["step"] != kTranscriptSignatureStep) continue;
        const std::size_t n = i + 1;
        const json& d = line["details"];
        if (!d.contains("head") || !d["head"].is_string() || !d.contains("signatures") || !d["signatures"].is_array())
            bad_line(path, n, "a signature line without \"head\" or \"signatures\"");
        const std::string head = d["head"].get<std::string>();
        if (head != line["prev"].get<std::string>()) bad_line(path, n, "the signed head is not the line before it");
        std::set<std::string> valid;
        for (const json& s : d["signatures"]) {
            if (!s.is_object() || !s.contains("keyid") || !s["keyid"].is_string() || !s.contains("sig") ||
                !s["sig"].is_string())
                bad_line(path, n, "a signature without \"keyid\" or \"sig\"");
            const std::string keyid = s["keyid"].get<std::string>();
            const auto key = root_keys.find(keyid);
            if (key == root_keys.end()) bad_line(path, n, "key " + keyid + " is not a root key of " + keys.gun);
            const auto sig = from_base64(s["sig"].get<std::string>());
            if (!sig || !key->second.verify("ecdsa", as_bytes(head), *sig))
                bad_line(path, n, "the signature by root key " + keyid + " does not verify");
            valid.insert(keyid);
        }
        any = true;
        result.covered_lines = i;  // the lines before this one
        result.valid_keys.assign(valid.begin(), valid.end());
    }
    if (!any) throw Error(Errc::denied, path.string() + " is not signed (no \"" + kTranscriptSignatureStep + "\" line)");
    if (result.valid_keys.size() < static_cast<std::size_t>(keys.threshold))
        throw Error(Errc::denied, path.string() + ": the last signature line has " +
                                      std::to_string(result.valid_keys.size()) + " root signature(s), threshold " +
                                      std::to_string(keys.threshold));
    return result;
}

} // namespace trustkey::ceremony
