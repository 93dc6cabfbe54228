// key_type_of_spki, tuf_key_id and verify_signature on arbitrary bytes (layout
// in spki_input.h). Only trustkey::Error may leave them, and a signature that
// verifies must have the key type's length and a matching key.
#include <cstddef>
#include <cstdint>
#include <optional>

#include <openssl/err.h>

#include "lib/keys/public_key.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/spki_input.h"

namespace {

using namespace trustkey;

bool is_lower_hex(const std::string& s) {
    for (const char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

void check_error(const Error& e) {
    FUZZ_CHECK(e.errc() == Errc::bad_key_format || e.errc() == Errc::unsupported_algorithm,
               "an SPKI function threw an undocumented error code");
    FUZZ_CHECK(*e.what() != '\0', "an error without a message");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto in = fuzz::read_spki_input({data, size});

    std::optional<backend::KeyType> actual;
    try {
        actual = keys::key_type_of_spki(in.spki);
    } catch (const Error& e) {
        check_error(e);
    }
    if (actual) {
        const std::string id = keys::tuf_key_id(*actual, in.spki);
        FUZZ_CHECK(id.size() == 64 && is_lower_hex(id), "a key id is not 64 lower-case hex digits");
        const std::string json = keys::tuf_key_json(*actual, in.spki);
        const Bytes digest = sha256({reinterpret_cast<const std::uint8_t*>(json.data()), json.size()});
        FUZZ_CHECK(id == to_hex(digest), "the key id is not the SHA-256 of the key JSON");
        FUZZ_CHECK(!keys::spki_to_pem(in.spki).empty(), "an accepted key has no PEM form");
    }
    // The type named by the input, which may not be the key's.
    try {
        (void)keys::tuf_key_id(in.type, in.spki);
    } catch (const Error& e) {
        check_error(e);
    }
    try {
        const bool ok = keys::verify_signature(in.type, in.spki, in.hash, in.data, in.signature);
        if (ok) {
            FUZZ_CHECK(actual && *actual == in.type, "a signature verified under the wrong key type");
            FUZZ_CHECK(in.signature.size() == backend::signature_size(in.type),
                       "a signature of the wrong length verified");
            FUZZ_CHECK(in.hash == backend::HashAlg::none || in.data.size() == 32,
                       "a SHA-256 digest of the wrong length verified");
        }
    } catch (const Error& e) {
        check_error(e);
    }
    ERR_clear_error();
    return 0;
}
