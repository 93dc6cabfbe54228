#include "lib/core/error.h"

#include <cstring>

namespace trustkey {

std::string_view errc_name(Errc e) noexcept {
    switch (e) {
    case Errc::internal: return "internal";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::ambiguous: return "ambiguous";
    case Errc::already_exists: return "already_exists";
    case Errc::unsupported_algorithm: return "unsupported_algorithm";
    case Errc::bad_digest_length: return "bad_digest_length";
    case Errc::batch_empty: return "batch_empty";
    case Errc::batch_too_large: return "batch_too_large";
    case Errc::bad_key_format: return "bad_key_format";
    case Errc::bad_passphrase: return "bad_passphrase";
    case Errc::pin_incorrect: return "pin_incorrect";
    case Errc::pin_locked: return "pin_locked";
    case Errc::pin_required: return "pin_required";
    case Errc::locked: return "locked";
    case Errc::token_absent: return "token_absent";
    case Errc::token_error: return "token_error";
    case Errc::key_damaged: return "key_damaged";
    case Errc::denied: return "denied";
    case Errc::malformed: return "malformed";
    case Errc::unsupported_version: return "unsupported_version";
    case Errc::io: return "io";
    case Errc::config: return "config";
    }
    return "unknown";
}

std::string_view error_domain_name(ErrorDomain d) noexcept {
    switch (d) {
    case ErrorDomain::none: return "none";
    case ErrorDomain::os: return "os";
    case ErrorDomain::pkcs11: return "pkcs11";
    case ErrorDomain::tpm: return "tpm";
    case ErrorDomain::openssl: return "openssl";
    case ErrorDomain::protocol: return "protocol";
    case ErrorDomain::other: return "other";
    }
    return "unknown";
}

namespace {
std::string compose(const std::string& message, const std::string& call, const std::string& subject) {
    std::string out = message;
    if (!subject.empty()) out += " [" + subject + "]";
    if (!call.empty()) out += " (" + call + ")";
    return out;
}
} // namespace

Error::Error(Errc errc, std::string message, std::uint64_t code, std::string call, std::string subject)
    : std::runtime_error(compose(message, call, subject)), m_errc(errc), m_message(std::move(message)),
      m_code(code), m_call(std::move(call)), m_subject(std::move(subject)) {}

std::string Error::user_message() const {
    if (m_subject.empty() || m_message.find(m_subject) != std::string::npos) return m_message;
    return m_message + " (" + m_subject + ")";
}

void throw_errno(std::string call, int err, std::string subject) {
    Error e(Errc::io, std::strerror(err), static_cast<std::uint64_t>(err), std::move(call), std::move(subject));
    e.set_domain(ErrorDomain::os);
    throw e;
}

} // namespace trustkey
