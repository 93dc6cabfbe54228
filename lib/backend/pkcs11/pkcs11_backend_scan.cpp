// Pkcs11Backend reading its token's keys: every private key that can sign, paired with its
// public key, its TUF key id, and the metadata stored with it.
#include "lib/backend/pkcs11/key_metadata_objects.h"
#include "lib/backend/pkcs11/key_templates.h"
#include "lib/backend/pkcs11/object_attributes.h"
#include "lib/backend/pkcs11/object_search.h"
#include "lib/backend/pkcs11/pkcs11_backend.h"
#include "lib/keys/public_key.h"

namespace trustkey::backend::pkcs11 {

std::vector<Pkcs11Backend::CachedKey> Pkcs11Backend::scan(SessionPool::Lease& lease) {
    CK_FUNCTION_LIST* fn = lease.fn();
    CK_SESSION_HANDLE s = lease.get();
    CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY, pub_class = CKO_PUBLIC_KEY;
    CK_BBOOL yes = CK_TRUE;
    std::vector<CachedKey> out;
    for (CK_OBJECT_HANDLE priv : find_objects(fn, s, {attr(CKA_CLASS, priv_class), attr(CKA_SIGN, yes)})) {
        auto key_type = read_ulong(fn, s, priv, CKA_KEY_TYPE);
        auto id = read_attribute(fn, s, priv, CKA_ID);
        auto label = read_attribute(fn, s, priv, CKA_LABEL);
        if (!key_type) continue;
        std::vector<CK_ATTRIBUTE> templ{attr(CKA_CLASS, pub_class)};
        if (id && !id->empty())
            templ.push_back(attr(CKA_ID, id->data(), id->size()));
        else if (label && !label->empty())
            templ.push_back(attr(CKA_LABEL, label->data(), label->size()));
        else
            continue;
        auto pubs = find_objects(fn, s, templ);
        if (pubs.size() != 1) continue;
        auto spki = spki_from_token(fn, s, pubs.front(), *key_type);
        if (!spki) continue;
        CachedKey k;
        k.priv = priv;
        k.pub = pubs.front();
        k.info.type = key_type_of_spki(*spki);
        k.info.id = tuf_key_id(k.info.type, *spki);
        k.info.name = label ? std::string(label->begin(), label->end()) : std::string();
        k.info.spki_der = std::move(*spki);
        k.info.backend = m_config.name;
        if (id) k.ckaid = std::move(*id);
        out.push_back(std::move(k));
    }
    if (out.empty()) return out;
    auto metadata = read_token_metadata(fn, s);
    for (auto& k : out) {
        if (k.ckaid.empty()) continue;
        auto it = metadata.find(k.ckaid);
        if (it != metadata.end()) attach_metadata(k.info, std::move(it->second.meta));
    }
    return out;
}

} // namespace trustkey::backend::pkcs11
