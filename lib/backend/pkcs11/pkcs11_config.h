// Configuration of one PKCS#11 backend, and its factory. Free of PKCS#11
// headers so the daemon and tools can include it.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "lib/backend/backend.h"
#include "lib/backend/pin_asker.h"

namespace trustkey::backend::pkcs11 {

// Where the user PIN comes from.
struct PinSource {
    enum class Kind { none, env, file };
    Kind kind = Kind::none;  // none: wait for an explicit login (CLI prompt)
    std::string ref;         // variable name or file path
};

struct Pkcs11Config {
    std::string name;              // backend instance name, unique in the daemon
    std::filesystem::path module;  // PKCS#11 module (.so)
    std::string token_uri;         // RFC 7512 URI selecting the token, e.g. "pkcs11:token=trustkey"
    PinSource pin;
    std::size_t sessions = 4;      // session pool size (concurrent token operations)
    // With no PIN source: who asks the user for the PIN (trustkeyd: pinentry); empty: no one,
    // the token waits for an explicit login.
    PinAsker ask_pin{};
    std::chrono::seconds pin_cache{600};  // how long a PIN typed there is kept (locked memory); 0: not kept
};

// Opens the module and the token, and logs in when a PIN source is set. A token that is
// absent or a PIN that fails does not throw here: the backend then reports it in
// status() and in the errors of each operation. A URI that does not parse, or that matches
// several tokens (token_uri.h), throws config.
std::unique_ptr<Backend> make_pkcs11_backend(const Pkcs11Config& config);

} // namespace trustkey::backend::pkcs11
