// The one rule that picks a token by its RFC 7512 URI (p11-kit's parser and matcher):
// every caller — the backend, the embedded token, the ceremony's backup — takes the one
// present, initialized token that matches, and refuses a URI that matches several.
#pragma once

#include <memory>
#include <string>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "lib/backend/pkcs11/token_init.h"
#include "lib/core/error.h"

namespace trustkey::backend::pkcs11 {

class TokenUri {
public:
    // Parses `uri` ("pkcs11:" when empty). Throws config for one that does not parse.
    explicit TokenUri(std::string uri);

    const std::string& text() const noexcept { return m_text; }
    bool matches(const CK_TOKEN_INFO& info) const noexcept;

private:
    struct UriFree {
        void operator()(P11KitUri* u) const noexcept { p11_kit_uri_free(u); }
    };
    std::string m_text;
    std::unique_ptr<P11KitUri, UriFree> m_parsed;
};

// A token as TokenSlot describes it (label, serial, manufacturer and model unpadded).
TokenSlot token_slot_of(CK_SLOT_ID slot, const CK_TOKEN_INFO& info);

// The one present, initialized token of the module matching `uri`. Throws token_absent
// when none does, and config when several do, naming each (label, serial) and how to
// narrow the URI (serial= or token=).
TokenSlot find_token(CK_FUNCTION_LIST* fn, const TokenUri& uri);

} // namespace trustkey::backend::pkcs11
