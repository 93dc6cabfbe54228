#include "tools/trust/tuf/signed.h"

#include <algorithm>
#include <set>

#include "lib/core/error.h"
#include "tools/trust/tuf/canonical_json.h"
#include "tools/trust/tuf/json_fields.h"
#include "tools/trust/tuf/role_name.h"

namespace trustkey::tuf {

Signed::Signed(std::string role, nlohmann::json body)
    : m_role(std::move(role)), m_body(std::move(body)), m_canonical(canonical_json(m_body)) {
    if (!m_body.is_object()) throw Error(Errc::invalid_argument, m_role + ": the signed part must be an object");
}

Signed Signed::parse(std::string_view file_bytes, std::string role) {
    nlohmann::json file = parse_json(file_bytes, role + " metadata");
    FieldPath at{role, {}};
    if (!file.is_object()) field_error(at, "is not an object");
    only_fields(file, at, {"signed", "signatures"});
    const nlohmann::json& body = object_at(file, at, "signed");
    std::string canonical;
    try {
        canonical = canonical_json(body);
    } catch (const Error& e) {
        field_error(at.child("signed"), e.message());
    }
    std::vector<Signature> sigs;
    auto it = file.find("signatures");
    if (it == file.end()) field_error(at.child("signatures"), "is missing");
    if (!it->is_null()) { // Go writes a nil list as null
        const nlohmann::json& list = array_at(file, at, "signatures");
        for (std::size_t i = 0; i < list.size(); ++i) {
            FieldPath sp = at.child("signatures").child(std::to_string(i));
            if (!list[i].is_object()) field_error(sp, "must be an object");
            only_fields(list[i], sp, {"keyid", "method", "sig"});
            Signature s;
            s.keyid = string_at(list[i], sp, "keyid");
            s.method = string_at(list[i], sp, "method");
            std::transform(s.method.begin(), s.method.end(), s.method.begin(),
                           [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
            s.sig = base64_at(list[i], sp, "sig");
            sigs.push_back(std::move(s));
        }
    }
    Signed out(std::move(role), body);
    out.m_signatures = std::move(sigs);
    return out;
}

void Signed::add_signature(Signature sig) {
    auto it = std::find_if(m_signatures.begin(), m_signatures.end(),
                           [&](const Signature& s) { return s.keyid == sig.keyid; });
    if (it != m_signatures.end()) *it = std::move(sig);
    else m_signatures.push_back(std::move(sig));
}

void Signed::sign(std::span<const SigningKey> keys, const SignFunction& sign) {
    for (const SigningKey& k : keys) {
        Bytes sig = sign(k.keyid, k.method, as_bytes(m_canonical));
        if (sig.empty()) throw Error(Errc::internal, m_role + ": the signer returned no signature", 0, {}, k.keyid);
        add_signature(Signature{k.keyid, k.method, std::move(sig)});
    }
}

std::string Signed::to_file() const { return file_form(m_canonical, m_signatures); }

std::vector<std::string> Signed::verify(const KeyMap& role_keys, std::int64_t threshold, Expiry now) const {
    if (threshold < 1) throw Error(Errc::invalid_argument, m_role + ": a threshold must be at least 1");
    FieldPath at{m_role, {}};
    std::string type = string_at(m_body, at, "_type");
    if (type != role_type(m_role))
        throw Error(Errc::denied, m_role + ": the file is of type \"" + type + "\"", 0, {}, m_role);
    std::string expires_text = string_at(m_body, at, "expires");
    Expiry expires = parse_expiry(expires_text, m_role + " expires");
    if (expires <= now) throw Error(Errc::denied, m_role + ": expired at " + format_expiry(expires), 0, {}, m_role);

    std::set<std::string> valid;
    for (const Signature& s : m_signatures) {
        if (valid.contains(s.keyid)) continue;
        auto it = role_keys.find(s.keyid);
        if (it == role_keys.end() || it->second.id() != s.keyid) continue;
        if (it->second.verify(s.method, as_bytes(m_canonical), s.sig)) valid.insert(s.keyid);
    }
    if (static_cast<std::int64_t>(valid.size()) < threshold)
        throw Error(Errc::denied,
                    m_role + ": " + std::to_string(valid.size()) + " valid signature(s), threshold " +
                        std::to_string(threshold),
                    0, {}, m_role);
    return {valid.begin(), valid.end()};
}

} // namespace trustkey::tuf
