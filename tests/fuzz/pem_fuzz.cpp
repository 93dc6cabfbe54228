// PrivateKey::from_pem on arbitrary text, without and with a passphrase. Only
// trustkey::Error with one of the documented codes may leave it; a key it
// accepts must have a public key of the type it reports.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <openssl/err.h>

#include "lib/backend/private_key.h"
#include "lib/keys/public_key.h"
#include "lib/core/error.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace trustkey;

// The passphrase the encrypted seeds in corpus/pem_fuzz were made with.
constexpr std::string_view kPassphrase = "trustkey-fuzz";

void parse(std::string_view pem, const SecureBytes* passphrase) {
    try {
        const auto key = backend::PrivateKey::from_pem(pem, passphrase);
        const Bytes spki = key.spki_der();
        FUZZ_CHECK(!spki.empty(), "an accepted key has no public key");
        FUZZ_CHECK(keys::key_type_of_spki(spki) == key.type(), "the public key's type differs from the key's");
        FUZZ_CHECK(keys::tuf_key_id(key.type(), spki).size() == 64, "a key id is not 64 hex digits");
    } catch (const Error& e) {
        FUZZ_CHECK(e.errc() == Errc::bad_key_format || e.errc() == Errc::bad_passphrase ||
                       e.errc() == Errc::unsupported_algorithm,
                   "from_pem threw an undocumented error code");
        FUZZ_CHECK(*e.what() != '\0', "an error without a message");
    }
    ERR_clear_error();  // keep one input's OpenSSL errors from showing in the next
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view pem(reinterpret_cast<const char*>(data), size);
    parse(pem, nullptr);
    const SecureBytes passphrase = secure_from(kPassphrase);
    parse(pem, &passphrase);
    const SecureBytes empty;
    parse(pem, &empty);
    return 0;
}
