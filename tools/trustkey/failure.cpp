#include "tools/trustkey/failure.h"

#include <string_view>

#include <fmt/format.h>

namespace trustkey::tools {

namespace {

std::string or_default(const std::string& s, std::string_view fallback) {
    return s.empty() ? std::string(fallback) : s;
}

// "(final try left)", "(few tries left)" or "" from the token's PIN flags.
std::string pin_hint(const proto::pb::PinInfo& pin) {
    if (pin.locked()) return " (the PIN is now locked)";
    if (pin.final_try()) return " (final try left)";
    if (pin.count_low()) return " (few tries left)";
    return {};
}

std::string candidate_list(const std::vector<std::string>& candidates) {
    std::string out;
    for (const auto& c : candidates) {
        if (!out.empty()) out += ", ";
        out += c;
    }
    return out;
}

// A TPM's authorization value and lockout are not a token PIN: the TPM backend's own line
// (naming the key and the backend) says what happened.
bool from_tpm(const proto::ClientError& e) { return std::string_view(e.what()).find("TPM") != std::string_view::npos; }

// The token a failure is about: the one the user named, else the one the daemon named.
std::string token_of(const RequestSubject& s, const proto::ClientError& e) {
    return s.backend.empty() ? e.backend() : s.backend;
}

std::string token_phrase(const std::string& token) {
    return token.empty() ? std::string("the token") : fmt::format("token '{}'", token);
}

std::string login_command(const std::string& token) {
    return token.empty() ? std::string("trustkey login") : "trustkey login --backend " + token;
}

// A PIN refused on an operation other than the login that gave it: which PIN, and what to run.
std::string wrong_pin(const proto::ClientError& e, const std::string& token) {
    namespace pb = proto::pb;
    const std::string head = fmt::format("wrong PIN for {}{}", token_phrase(token), pin_hint(e.pin()));
    switch (e.pin().refused()) {
    case pb::PIN_ORIGIN_CONFIGURED:
        return fmt::format("{}: the token refused the PIN in trustkeyd's configuration (pin_file or pin_env); "
                           "correct it, or run: {}",
                           head, login_command(token));
    case pb::PIN_ORIGIN_LOGIN:
        return fmt::format("{}: the token refused the PIN given to trustkey login; run: {}", head,
                           login_command(token));
    case pb::PIN_ORIGIN_PINENTRY:
        return fmt::format("{}: the token refused the PIN entered in pinentry; the next request asks again, or run: {}",
                           head, login_command(token));
    default: return fmt::format("{} (run: {})", head, login_command(token));
    }
}

// The daemon's own one-line message, or a fallback when it sent none.
std::string detail(const proto::ClientError& e, std::string_view fallback) {
    std::string_view msg = e.what();
    return msg.empty() ? std::string(fallback) : std::string(msg);
}

} // namespace

Failure Failure::from_client_error(const proto::ClientError& e, const RequestSubject& s,
                                   const std::string& socket_path) {
    using Kind = proto::ClientError::Kind;
    namespace pb = proto::pb;
    switch (e.kind()) {
    case Kind::not_running:
        return failed(fmt::format("trustkeyd is not running at {} (start it with: trustkeyd --socket {})",
                                  socket_path, socket_path));
    case Kind::io: return failed(fmt::format("lost the connection to trustkeyd at {}: {}", socket_path, e.what()));
    case Kind::protocol: return failed(fmt::format("unreadable answer from trustkeyd: {}", e.what()));
    case Kind::status: break;
    }

    const std::string key = or_default(s.key_ref, "?");
    const std::string token_name = token_of(s, e);
    const std::string token = or_default(token_name, "?");
    switch (e.status()) {
    case pb::STATUS_KEY_NOT_FOUND:
        // Without a key reference the missing thing is a backend (login/generate/load --backend).
        if (s.key_ref.empty()) return failed(detail(e, "not found"));
        // Listed, then not there: the backend's line says why (a TPM key's blob gone, say).
        if (!e.backend().empty())
            return failed(fmt::format("key '{}' is no longer usable on backend '{}': {}", key, e.backend(),
                                      detail(e, "not found")));
        return failed(fmt::format("unknown key '{}'", key));
    case pb::STATUS_AMBIGUOUS_KEY:
        return failed(fmt::format("'{}' is ambiguous: {}", key, candidate_list(e.candidates())));
    case pb::STATUS_KEY_EXISTS: return failed(detail(e, "a key with that name already exists"));
    case pb::STATUS_PIN_INCORRECT:
        if (from_tpm(e)) return failed(e.what());
        if (s.login)
            return failed(fmt::format("wrong PIN for {}{}{}", token_phrase(token_name), pin_hint(e.pin()),
                                      e.pin().logged_in() ? "; it stays logged in as before" : ""));
        return failed(wrong_pin(e, token_name));
    case pb::STATUS_PIN_LOCKED:
        if (from_tpm(e)) return failed(e.what());
        return failed(fmt::format("the PIN of {} is locked; unblock it with the security officer PIN",
                                  token_phrase(token_name)));
    case pb::STATUS_PIN_REQUIRED:
        if (from_tpm(e)) return failed(e.what());
        return failed(fmt::format("{} (run: {})", detail(e, "the token is not logged in"), login_command(token_name)));
    case pb::STATUS_TOKEN_ABSENT: return failed(fmt::format("token absent: {}", detail(e, token)));
    case pb::STATUS_TOKEN_ERROR: return failed(fmt::format("token error: {}", detail(e, token)));
    case pb::STATUS_KEY_DAMAGED:
        // The daemon's line names the key and its backend and says what is wrong with it.
        return failed(fmt::format("cannot use key '{}' on backend '{}': {}", key, or_default(e.backend(), "?"),
                                  detail(e, "what its backend stores for it is corrupt")));
    case pb::STATUS_BAD_PASSPHRASE:
        return failed(fmt::format("wrong or missing passphrase for {}", or_default(s.file, "the key")));
    case pb::STATUS_BAD_KEY_FORMAT:
        return failed(fmt::format("{}: {}", or_default(s.file, "key"), detail(e, "not a usable private key")));
    case pb::STATUS_BAD_DIGEST_LENGTH: return failed(fmt::format("bad digest length: {}", detail(e, "")));
    case pb::STATUS_UNSUPPORTED_ALGORITHM: return failed(fmt::format("unsupported: {}", detail(e, "")));
    case pb::STATUS_DENIED:
        // A key configured to confirm each use: the daemon's line names the key and why.
        if (std::string_view(e.what()).find("was not confirmed") != std::string_view::npos)
            return failed(fmt::format("{} (the key asks for confirmation of each use through pinentry)",
                                      detail(e, "")));
        return failed(fmt::format("denied by trustkeyd: {}", detail(e, "")));
    case pb::STATUS_LOCKED:
        if (s.login) return failed("trustkeyd is locked: unlock it with `trustkey unlock`, which takes a token's PIN");
        return failed("trustkeyd is locked; run `trustkey unlock`");
    case pb::STATUS_BUSY:
        return failed("trustkeyd is busy (at its connection cap or its queue for the key is full); try again");
    case pb::STATUS_UNSUPPORTED_VERSION:
        return failed(fmt::format("trustkeyd at {} speaks no protocol version this tool knows", socket_path));
    case pb::STATUS_INVALID_ARGUMENT: return failed(detail(e, "invalid argument"));
    default:
        return failed(fmt::format("trustkeyd failed ({}): {}", proto::status_name(e.status()), detail(e, "")));
    }
}

} // namespace trustkey::tools
