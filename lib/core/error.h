// One error type for all of trustkey: what went wrong, the backend's own code,
// the call that failed and the subject (key id, token) it concerns.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace trustkey {

// What went wrong, independent of the backend. Each value maps to one
// protocol status (agent-proto/PROTOCOL.md) and one CLI exit code.
enum class Errc : std::uint8_t {
    internal,              // a bug or an unexpected failure
    invalid_argument,      // a request field is wrong (name syntax, empty value …)
    not_found,             // no key matches the reference
    ambiguous,             // a key reference matches several keys
    already_exists,        // a key with that name already exists on the token
    unsupported_algorithm, // key type, hash or mechanism not supported, or wrong for the key
    bad_digest_length,     // the digest length does not match the hash algorithm
    batch_empty,           // sign-batch with no digests
    batch_too_large,       // sign-batch over the per-algorithm limit
    bad_key_format,        // a PEM/DER key that cannot be parsed
    bad_passphrase,        // an encrypted private key and a wrong or missing passphrase
    pin_incorrect,         // the token refused the PIN
    pin_locked,            // the token's PIN is blocked
    pin_required,          // the token is not logged in and no PIN source is configured
    locked,                // the daemon is locked: keys are not used until it is unlocked
    token_absent,          // the token is not present (removed, never found)
    token_error,           // the token failed an operation for another reason
    key_damaged,           // the key exists but what its backend stores for it is corrupt (a TPM key's blob)
    denied,                // policy or peer credentials refuse the operation
    malformed,             // a frame or message cannot be decoded
    unsupported_version,   // protocol version not supported
    io,                    // a system call failed (errno kept)
    config,                // the configuration is invalid
};

std::string_view errc_name(Errc e) noexcept;

// Whose code Error::code() is, set where the error is made: a CK_RV (pkcs11), a TSS2_RC
// (tpm), an errno (os), an OpenSSL error (openssl), a wire decoding failure (protocol);
// none when the error carries no foreign code.
enum class ErrorDomain : std::uint8_t { none, os, pkcs11, tpm, openssl, protocol, other };

std::string_view error_domain_name(ErrorDomain d) noexcept;

class Error : public std::runtime_error {
public:
    // `code` is the backend's code unchanged (CK_RV, errno, OpenSSL error …), 0 if none.
    Error(Errc errc, std::string message, std::uint64_t code = 0, std::string call = {},
          std::string subject = {});

    Errc errc() const noexcept { return m_errc; }
    std::uint64_t code() const noexcept { return m_code; }
    const std::string& call() const noexcept { return m_call; }
    const std::string& subject() const noexcept { return m_subject; }
    // The short message without call/subject decoration.
    const std::string& message() const noexcept { return m_message; }
    // The line for a person: the message, and the subject when the message does not
    // already name it; never the internal call.
    std::string user_message() const;
    // Symbolic name of code() ("CKR_PIN_INCORRECT"), empty when the backend gave none.
    const std::string& code_name() const noexcept { return m_code_name; }
    void set_code_name(std::string name) { m_code_name = std::move(name); }
    // Whose code code() is.
    ErrorDomain domain() const noexcept { return m_domain; }
    void set_domain(ErrorDomain domain) noexcept { m_domain = domain; }
    // For `throw Error(...).with_domain(ErrorDomain::tpm)`.
    Error& with_domain(ErrorDomain domain) noexcept {
        m_domain = domain;
        return *this;
    }

private:
    Errc m_errc;
    ErrorDomain m_domain = ErrorDomain::none;
    std::string m_message;
    std::uint64_t m_code;
    std::string m_call;
    std::string m_subject;
    std::string m_code_name;
};

// Throws Errc::io with errno text for `call` (domain os).
[[noreturn]] void throw_errno(std::string call, int err, std::string subject = {});

} // namespace trustkey
