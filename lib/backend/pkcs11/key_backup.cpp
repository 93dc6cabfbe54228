#include "lib/backend/pkcs11/key_backup.h"

#include <memory>
#include <optional>
#include <vector>

#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>

#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/key_templates.h"
#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/object_attributes.h"
#include "lib/backend/pkcs11/object_search.h"
#include "lib/backend/pkcs11/owned_object.h"
#include "lib/backend/pkcs11/scoped_login.h"
#include "lib/backend/pkcs11/session.h"
#include "lib/backend/pkcs11/token_uri.h"
#include "lib/keys/public_key.h"
#include "lib/core/error.h"

namespace trustkey::backend::pkcs11 {

namespace {

constexpr CK_ULONG kTransportRsaBits = 3072;
constexpr CK_ULONG kTransportAesBytes = 32;
const std::string kLabel = kBackupTransportLabel;

std::string describe(const TokenSlot& s) { return "token " + s.label + " (serial " + s.serial + ")"; }

// One token taking part: where it is, what to call it, and the session the transfer uses.
struct Side {
    Side(const std::shared_ptr<Module>& module, TokenSlot token)
        : slot(std::move(token)), name(describe(slot)), session(module, slot.id) {}
    CK_FUNCTION_LIST* fn() const noexcept { return session.fn(); }
    CK_SESSION_HANDLE s() const noexcept { return session.get(); }

    TokenSlot slot;
    std::string name;
    Session session;
};

// Return values that mean the token cannot do what the transfer needs (as opposed to a fault).
bool is_missing_capability(CK_RV rv) noexcept {
    switch (rv) {
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_KEY_NOT_WRAPPABLE:
    case CKR_KEY_UNEXTRACTABLE:
    case CKR_WRAPPING_KEY_TYPE_INCONSISTENT:
    case CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_ATTRIBUTE_READ_ONLY: return true;
    default: return false;
    }
}

// Throws for a step `what` of the transfer that `side` did not do.
void check_step(const Side& side, const char* call, CK_RV rv, const std::string& what) {
    if (rv == CKR_OK) return;
    if (is_missing_capability(rv))
        throw ck_error(Errc::unsupported_algorithm, side.name + " cannot " + what + " (" + rv_name(rv) + "); refusing",
                       call, rv);
    const Error e = ck_error(call, rv, side.name);
    throw ck_error(e.errc(), side.name + ": cannot " + what + ": " + e.message(), call, rv);
}

void require_mechanism(const Side& side, CK_MECHANISM_TYPE mechanism, CK_FLAGS flag, const std::string& what,
                       CK_ULONG bits = 0) {
    CK_MECHANISM_INFO info{};
    const CK_RV rv = side.fn()->C_GetMechanismInfo(side.slot.id, mechanism, &info);
    const bool missing = rv == CKR_MECHANISM_INVALID ||
                         (rv == CKR_OK && ((info.flags & flag) == 0 || (bits != 0 && info.ulMaxKeySize != 0 &&
                                                                        (bits < info.ulMinKeySize ||
                                                                         bits > info.ulMaxKeySize))));
    if (missing)
        throw ck_error(Errc::unsupported_algorithm, side.name + " cannot " + what + "; refusing",
                       "C_GetMechanismInfo", rv);
    check_rv("C_GetMechanismInfo", rv, side.name);
}

bool read_bool(const Side& side, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
    const auto v = read_attribute(side.fn(), side.s(), object, type);
    return v && v->size() == 1 && (*v)[0] != 0;
}

Bytes read_required(const Side& side, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, const char* what) {
    auto v = read_attribute(side.fn(), side.s(), object, type);
    if (!v) throw Error(Errc::token_error, side.name + " does not give the " + what + " of the key", 0,
                        "C_GetAttributeValue");
    return std::move(*v);
}

std::vector<CK_OBJECT_HANDLE> find_key(const Side& side, CK_OBJECT_CLASS cls, const Bytes& id) {
    return find_objects(side.fn(), side.s(), {attr(CKA_CLASS, cls), attr(CKA_ID, id.data(), id.size())});
}

// What the source says about the key, read as its user.
struct SourceKey {
    std::string label;
    Bytes ec_params, ec_point, spki;
};

CK_OBJECT_HANDLE source_private_key(const Side& a, const Bytes& id, const std::string& key_id) {
    const auto found = find_key(a, CKO_PRIVATE_KEY, id);
    if (found.empty()) throw Error(Errc::not_found, a.name + " holds no private key with id " + key_id);
    if (found.size() > 1)
        throw Error(Errc::ambiguous, a.name + " holds " + std::to_string(found.size()) + " private keys with id " +
                                         key_id + "; refusing");
    return found.front();
}

SourceKey inspect_source(const Side& a, const Bytes& id, const std::string& key_id) {
    const CK_OBJECT_HANDLE priv = source_private_key(a, id, key_id);
    if (read_ulong(a.fn(), a.s(), priv, CKA_KEY_TYPE) != CK_ULONG{CKK_EC})
        throw Error(Errc::unsupported_algorithm, "key " + key_id + " on " + a.name +
                                                     " is not an EC key; only ECDSA P-256 keys are copied");
    if (!read_bool(a, priv, CKA_EXTRACTABLE))
        throw Error(Errc::denied, "key " + key_id + " on " + a.name +
                                      " is not extractable (it was made to stay on its token); it cannot be copied; "
                                      "refusing");
    SourceKey out;
    const auto label = read_attribute(a.fn(), a.s(), priv, CKA_LABEL);
    if (!label || label->empty()) throw Error(Errc::invalid_argument, "key " + key_id + " on " + a.name + " has no label");
    out.label.assign(label->begin(), label->end());
    const auto pubs = find_key(a, CKO_PUBLIC_KEY, id);
    if (pubs.size() != 1)
        throw Error(Errc::not_found, a.name + " holds " + std::to_string(pubs.size()) +
                                         " public key objects with id " + key_id + " (one is needed)");
    const auto spki = spki_from_token(a.fn(), a.s(), pubs.front(), CKK_EC);
    if (!spki) throw Error(Errc::unsupported_algorithm, "key " + key_id + " on " + a.name + " is not an ECDSA P-256 key");
    if (tuf_key_id(KeyType::ecdsa_p256, *spki) != key_id)
        throw Error(Errc::malformed, "the public key of key " + key_id + " on " + a.name + " has another key id");
    out.spki = *spki;
    out.ec_params = read_required(a, pubs.front(), CKA_EC_PARAMS, "curve");
    out.ec_point = read_required(a, pubs.front(), CKA_EC_POINT, "public point");
    return out;
}

void check_destination_free(const Side& b, const Bytes& id, const std::string& key_id, const std::string& label) {
    if (!find_objects(b.fn(), b.s(), {attr(CKA_ID, id.data(), id.size())}).empty())
        throw Error(Errc::already_exists, b.name + " already holds a key with id " + key_id + "; refusing", 0, {},
                    key_id);
    if (!find_objects(b.fn(), b.s(), {attr(CKA_LABEL, label.data(), label.size())}).empty())
        throw Error(Errc::already_exists, b.name + " already holds an object labelled " + label + "; refusing", 0, {},
                    key_id);
}

std::size_t remove_leftovers(const Side& side) {
    CK_BBOOL yes = CK_TRUE;
    const auto found = find_objects(side.fn(), side.s(), {attr(CKA_TOKEN, yes), attr(CKA_LABEL, kLabel.data(), kLabel.size())});
    for (CK_OBJECT_HANDLE h : found)
        check_rv("C_DestroyObject", side.fn()->C_DestroyObject(side.s(), h), side.name);
    return found.size();
}

// C_WrapKey with the length query first; the result is a secret.
SecureBytes wrap(const Side& side, CK_MECHANISM& mechanism, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                 const std::string& what, CK_RV* rv_out = nullptr) {
    CK_ULONG len = 0;
    CK_RV rv = side.fn()->C_WrapKey(side.s(), &mechanism, wrapping, key, nullptr, &len);
    SecureBytes out;
    if (rv == CKR_OK) {
        out.resize(len);
        rv = side.fn()->C_WrapKey(side.s(), &mechanism, wrapping, key, out.data(), &len);
        out.resize(len);
    }
    if (rv_out != nullptr && rv != CKR_OK) {
        *rv_out = rv;
        return {};
    }
    check_step(side, "C_WrapKey", rv, what);
    return out;
}

OwnedObject unwrap(const Side& side, CK_MECHANISM& mechanism, CK_OBJECT_HANDLE unwrapping, SecureBytes& wrapped,
                   std::vector<CK_ATTRIBUTE>& templ, const std::string& what) {
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    check_step(side, "C_UnwrapKey",
               side.fn()->C_UnwrapKey(side.s(), &mechanism, unwrapping, wrapped.data(),
                                      static_cast<CK_ULONG>(wrapped.size()), templ.data(),
                                      static_cast<CK_ULONG>(templ.size()), &h),
               what);
    return OwnedObject(side.fn(), side.s(), h);
}

struct TransportPair {
    OwnedObject pub, priv;
    Bytes modulus, exponent;
};

// Step 1, on the destination.
TransportPair make_transport_pair(const Side& b) {
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = kTransportRsaBits;
    const CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    std::vector<CK_ATTRIBUTE> pub{attr(CKA_TOKEN, no),   attr(CKA_PRIVATE, no),         attr(CKA_WRAP, yes),
                                  attr(CKA_ENCRYPT, no), attr(CKA_VERIFY, no),          attr(CKA_MODULUS_BITS, bits),
                                  attr(CKA_PUBLIC_EXPONENT, exponent, sizeof exponent), attr(CKA_LABEL, kLabel.data(), kLabel.size())};
    std::vector<CK_ATTRIBUTE> priv{attr(CKA_TOKEN, no),       attr(CKA_PRIVATE, yes), attr(CKA_SENSITIVE, yes),
                                   attr(CKA_EXTRACTABLE, no), attr(CKA_UNWRAP, yes),  attr(CKA_DECRYPT, no),
                                   attr(CKA_SIGN, no),        attr(CKA_LABEL, kLabel.data(), kLabel.size())};
    CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE, priv_h = CK_INVALID_HANDLE;
    check_step(b, "C_GenerateKeyPair",
               b.fn()->C_GenerateKeyPair(b.s(), &mech, pub.data(), static_cast<CK_ULONG>(pub.size()), priv.data(),
                                         static_cast<CK_ULONG>(priv.size()), &pub_h, &priv_h),
               "make an RSA-3072 transport key pair");
    TransportPair out{OwnedObject(b.fn(), b.s(), pub_h), OwnedObject(b.fn(), b.s(), priv_h), {}, {}};
    out.modulus = read_required(b, pub_h, CKA_MODULUS, "modulus");
    out.exponent = read_required(b, pub_h, CKA_PUBLIC_EXPONENT, "public exponent");
    return out;
}

struct TrustedKeys {
    OwnedObject rsa_pub, aes;
};

// Step 2, on the source, logged in as its SO: both keys are public session objects.
TrustedKeys make_trusted_keys(const Side& a, const TransportPair& transport) {
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, secret_class = CKO_SECRET_KEY;
    CK_KEY_TYPE rsa = CKK_RSA, aes = CKK_AES;
    CK_ULONG aes_len = kTransportAesBytes;
    std::vector<CK_ATTRIBUTE> pub{attr(CKA_CLASS, pub_class), attr(CKA_KEY_TYPE, rsa),  attr(CKA_TOKEN, no),
                                  attr(CKA_PRIVATE, no),      attr(CKA_WRAP, yes),      attr(CKA_ENCRYPT, no),
                                  attr(CKA_VERIFY, no),       attr(CKA_TRUSTED, yes),
                                  attr(CKA_MODULUS, transport.modulus.data(), transport.modulus.size()),
                                  attr(CKA_PUBLIC_EXPONENT, transport.exponent.data(), transport.exponent.size()),
                                  attr(CKA_LABEL, kLabel.data(), kLabel.size())};
    CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE;
    check_step(a, "C_CreateObject",
               a.fn()->C_CreateObject(a.s(), pub.data(), static_cast<CK_ULONG>(pub.size()), &pub_h),
               "take the destination's transport key as a trusted wrapping key");
    TrustedKeys out{OwnedObject(a.fn(), a.s(), pub_h), {}};
    std::vector<CK_ATTRIBUTE> secret{attr(CKA_CLASS, secret_class), attr(CKA_KEY_TYPE, aes),
                                     attr(CKA_VALUE_LEN, aes_len),   attr(CKA_TOKEN, no),
                                     attr(CKA_PRIVATE, no),          attr(CKA_SENSITIVE, yes),
                                     attr(CKA_EXTRACTABLE, yes),     attr(CKA_WRAP_WITH_TRUSTED, yes),
                                     attr(CKA_WRAP, yes),            attr(CKA_UNWRAP, no),
                                     attr(CKA_ENCRYPT, no),          attr(CKA_DECRYPT, no),
                                     attr(CKA_TRUSTED, yes),         attr(CKA_LABEL, kLabel.data(), kLabel.size())};
    CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
    CK_OBJECT_HANDLE aes_h = CK_INVALID_HANDLE;
    check_step(a, "C_GenerateKey",
               a.fn()->C_GenerateKey(a.s(), &gen, secret.data(), static_cast<CK_ULONG>(secret.size()), &aes_h),
               "make a trusted one-time AES-256 key");
    out.aes = OwnedObject(a.fn(), a.s(), aes_h);
    return out;
}

struct Wrapped {
    SecureBytes aes;   // the AES key under the RSA key
    SecureBytes key;   // the key under the AES key
    CK_RSA_PKCS_OAEP_PARAMS oaep{};
};

CK_RSA_PKCS_OAEP_PARAMS oaep_params(CK_MECHANISM_TYPE hash, CK_RSA_PKCS_MGF_TYPE mgf) {
    return CK_RSA_PKCS_OAEP_PARAMS{hash, mgf, CKZ_DATA_SPECIFIED, nullptr, 0};
}

// Step 3, on the source, logged in as its user.
Wrapped wrap_key(const Side& a, const TrustedKeys& trusted, CK_OBJECT_HANDLE key) {
    Wrapped out;
    out.oaep = oaep_params(CKM_SHA256, CKG_MGF1_SHA256);
    CK_MECHANISM oaep{CKM_RSA_PKCS_OAEP, &out.oaep, sizeof out.oaep};
    CK_RV rv = CKR_OK;
    out.aes = wrap(a, oaep, trusted.rsa_pub.get(), trusted.aes.get(), "", &rv);
    if (rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_ARGUMENTS_BAD) {
        // Tokens such as SoftHSM2 2.6 take OAEP only with SHA-1, which is still sound for key transport.
        out.oaep = oaep_params(CKM_SHA_1, CKG_MGF1_SHA1);
        out.aes = wrap(a, oaep, trusted.rsa_pub.get(), trusted.aes.get(), "wrap a key with RSA-OAEP");
    } else if (rv != CKR_OK) {
        check_step(a, "C_WrapKey", rv, "wrap a key with RSA-OAEP");
    }
    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    out.key = wrap(a, kwp, trusted.aes.get(), key, "wrap the key with AES key wrap with padding (RFC 5649)");
    return out;
}

// Step 4, on the destination: the key as a token object, and its public key.
std::pair<OwnedObject, OwnedObject> unwrap_key(const Side& b, const TransportPair& transport, Wrapped& wrapped,
                                               const SourceKey& source, const Bytes& id) {
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY, priv_class = CKO_PRIVATE_KEY, pub_class = CKO_PUBLIC_KEY;
    CK_KEY_TYPE aes = CKK_AES, ec = CKK_EC;
    CK_MECHANISM oaep{CKM_RSA_PKCS_OAEP, &wrapped.oaep, sizeof wrapped.oaep};
    std::vector<CK_ATTRIBUTE> secret{attr(CKA_CLASS, secret_class), attr(CKA_KEY_TYPE, aes),  attr(CKA_TOKEN, no),
                                     attr(CKA_PRIVATE, yes),         attr(CKA_SENSITIVE, yes), attr(CKA_EXTRACTABLE, no),
                                     attr(CKA_UNWRAP, yes),          attr(CKA_WRAP, no),       attr(CKA_ENCRYPT, no),
                                     attr(CKA_DECRYPT, no),          attr(CKA_LABEL, kLabel.data(), kLabel.size())};
    OwnedObject aes_key = unwrap(b, oaep, transport.priv.get(), wrapped.aes, secret, "unwrap a key with RSA-OAEP");

    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    std::vector<CK_ATTRIBUTE> priv{attr(CKA_CLASS, priv_class),
                                   attr(CKA_KEY_TYPE, ec),
                                   attr(CKA_TOKEN, yes),
                                   attr(CKA_PRIVATE, yes),
                                   attr(CKA_SENSITIVE, yes),
                                   attr(CKA_EXTRACTABLE, yes),
                                   attr(CKA_WRAP_WITH_TRUSTED, yes),
                                   attr(CKA_SIGN, yes),
                                   attr(CKA_DECRYPT, no),
                                   attr(CKA_UNWRAP, no),
                                   attr(CKA_DERIVE, no),
                                   attr(CKA_LABEL, source.label.data(), source.label.size()),
                                   attr(CKA_ID, id.data(), id.size())};
    OwnedObject copy = unwrap(b, kwp, aes_key.get(), wrapped.key, priv,
                              "unwrap the key with AES key wrap with padding (RFC 5649)");
    std::vector<CK_ATTRIBUTE> pub{attr(CKA_CLASS, pub_class),
                                  attr(CKA_KEY_TYPE, ec),
                                  attr(CKA_TOKEN, yes),
                                  attr(CKA_PRIVATE, no),
                                  attr(CKA_VERIFY, yes),
                                  attr(CKA_ENCRYPT, no),
                                  attr(CKA_WRAP, no),
                                  attr(CKA_DERIVE, no),
                                  attr(CKA_LABEL, source.label.data(), source.label.size()),
                                  attr(CKA_ID, id.data(), id.size()),
                                  attr(CKA_EC_PARAMS, source.ec_params.data(), source.ec_params.size()),
                                  attr(CKA_EC_POINT, source.ec_point.data(), source.ec_point.size())};
    CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE;
    check_step(b, "C_CreateObject", b.fn()->C_CreateObject(b.s(), pub.data(), static_cast<CK_ULONG>(pub.size()), &pub_h),
               "store the public key");
    return {std::move(copy), OwnedObject(b.fn(), b.s(), pub_h)};
}

// Step 5: the copy signs a random challenge, which the original public key must verify.
void check_copy(const Side& b, CK_OBJECT_HANDLE copy, CK_OBJECT_HANDLE pub, const SourceKey& source,
                const std::string& key_id) {
    const auto spki = spki_from_token(b.fn(), b.s(), pub, CKK_EC);
    if (!spki || *spki != source.spki)
        throw Error(Errc::token_error, "the public key stored on " + b.name + " reads back differently; copy removed");
    Bytes challenge(32);
    if (RAND_bytes(challenge.data(), static_cast<int>(challenge.size())) != 1)
        throw Error(Errc::internal, "no random bytes for the check of the copy", 0, "RAND_bytes");
    Bytes digest = sha256(challenge);
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    check_step(b, "C_SignInit", b.fn()->C_SignInit(b.s(), &ecdsa, copy), "sign with the copy");
    Bytes sig(64);
    CK_ULONG len = static_cast<CK_ULONG>(sig.size());
    check_step(b, "C_Sign", b.fn()->C_Sign(b.s(), digest.data(), static_cast<CK_ULONG>(digest.size()), sig.data(), &len),
               "sign with the copy");
    sig.resize(len);
    if (!verify_signature(KeyType::ecdsa_p256, source.spki, HashAlg::sha256, digest, sig))
        throw Error(Errc::token_error, "the copy of key " + key_id + " on " + b.name +
                                           " does not sign for the original's public key; copy removed");
}

std::string transport_name(const Wrapped& w) {
    return std::string("RSA-3072 OAEP (") + (w.oaep.hashAlg == CKM_SHA256 ? "SHA-256" : "SHA-1") +
           ") + AES-256 key wrap with padding (RFC 5649)";
}

} // namespace

KeyBackupResult backup_key(const KeyBackupRequest& request) {
    const std::optional<Bytes> id = from_hex(request.key_id);
    if (!id || id->size() != 32) throw Error(Errc::invalid_argument, "bad key id " + request.key_id);
    KeyBackupResult result;
    result.from = find_token(request.module, request.from_uri);
    result.to = find_token(request.module, request.to_uri);
    if (result.from.serial == result.to.serial)
        throw Error(Errc::invalid_argument, request.from_uri + " and " + request.to_uri + " are the same token (serial " +
                                                result.from.serial + ")");
    const std::shared_ptr<Module> module = Module::open(request.module);
    Side a(module, result.from), b(module, result.to);

    require_mechanism(a, CKM_AES_KEY_GEN, CKF_GENERATE, "generate AES keys", kTransportAesBytes);
    require_mechanism(a, CKM_RSA_PKCS_OAEP, CKF_WRAP, "wrap keys with RSA-OAEP", kTransportRsaBits);
    require_mechanism(a, CKM_AES_KEY_WRAP_PAD, CKF_WRAP, "wrap keys with AES key wrap with padding (RFC 5649)");
    require_mechanism(b, CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "generate RSA-3072 key pairs",
                      kTransportRsaBits);
    require_mechanism(b, CKM_RSA_PKCS_OAEP, CKF_UNWRAP, "unwrap keys with RSA-OAEP", kTransportRsaBits);
    require_mechanism(b, CKM_AES_KEY_WRAP_PAD, CKF_UNWRAP, "unwrap keys with AES key wrap with padding (RFC 5649)");
    require_mechanism(b, CKM_ECDSA, CKF_SIGN, "sign with ECDSA");

    // Everything is checked before anything is made: the destination, then the source.
    ScopedLogin b_user(b.session, CKU_USER, request.to_user_pin, b.name);
    std::optional<ScopedLogin> a_login;
    a_login.emplace(a.session, CKU_USER, request.from_user_pin, a.name);
    const SourceKey source = inspect_source(a, *id, request.key_id);
    result.key_label = source.label;
    result.spki_der = source.spki;
    check_destination_free(b, *id, request.key_id, source.label);
    result.leftovers_removed = remove_leftovers(a) + remove_leftovers(b);

    TransportPair transport = make_transport_pair(b);
    // A token has one login at a time: the user's ends for the SO's, and comes back after.
    a_login.reset();
    a_login.emplace(a.session, CKU_SO, request.from_so_pin, a.name);
    TrustedKeys trusted = make_trusted_keys(a, transport);
    a_login.reset();
    a_login.emplace(a.session, CKU_USER, request.from_user_pin, a.name);
    // Handles of private objects may not survive a logout: find the key again.
    Wrapped wrapped = wrap_key(a, trusted, source_private_key(a, *id, request.key_id));
    trusted.aes.reset();
    trusted.rsa_pub.reset();

    auto [copy, copy_pub] = unwrap_key(b, transport, wrapped, source, *id);
    check_copy(b, copy.get(), copy_pub.get(), source, request.key_id);
    copy.release();
    copy_pub.release();
    result.transport = transport_name(wrapped);
    return result;
}

} // namespace trustkey::backend::pkcs11
