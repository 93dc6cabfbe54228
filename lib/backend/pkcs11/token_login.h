// Login state of one token. The PIN comes from the configured PinSource or an
// explicit login(); a PIN the token refused is never tried again on its own:
// until the next explicit login() operations report pin_incorrect, naming which
// PIN (configured or given to login()) was refused. An explicit login() on a token
// that is logged in checks the PIN without logging out, so a wrong PIN leaves the
// working login in place.
//
// With no PIN source but a PinAsker (trustkeyd's pinentry), a request that needs the
// token asks the user, naming the token and what the PIN is for (PinPurpose); the PIN
// typed is kept in locked memory for the cache time and logs in again after a lost
// login. A PIN typed there that the token refuses is reported with the tries the token
// says are left and not tried again: the next request asks again, showing that error.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include <p11-kit/pkcs11.h>

#include "lib/backend/pin_asker.h"
#include "lib/backend/pkcs11/pin_cache.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/core/error.h"
#include "lib/core/secure_bytes.h"

namespace trustkey::backend::pkcs11 {

// Reads the PIN from an environment variable, or from a file holding the PIN
// (trailing newline stripped) or a line "user_pin=VALUE". Throws pin_required
// when the source is none or empty, config when the file cannot be read.
SecureBytes read_pin(const PinSource& source);

class TokenLogin {
public:
    enum class State { logged_out, logged_in, pin_incorrect, pin_locked };

    TokenLogin(PinSource source, std::string subject, PinAsker ask = {},
               std::chrono::seconds pin_cache = std::chrono::seconds(0))
        : m_source(std::move(source)), m_subject(std::move(subject)), m_ask(std::move(ask)), m_pin_cache_ttl(pin_cache) {}

    // Logs in through `session` with the PIN source unless already logged in.
    // Throws pin_incorrect (remembered), pin_locked, pin_required or token errors.
    void ensure(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session);
    // Logs in with a PIN given by the user; clears a remembered refusal. When the token is
    // logged in already, the PIN is checked in place (C_SetPIN to itself, which verifies the
    // old PIN and keeps the login) and a refused PIN throws pin_incorrect with the login kept.
    // A token that cannot check a PIN that way is logged out and in again.
    void login(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, const SecureBytes& pin);
    // The token reports the user is not logged in (sessions were closed, token re-inserted).
    void forget() noexcept;
    // After the token came back: logs in again without asking anyone — with the configured
    // PIN source, or the PIN typed into pinentry while the cache keeps it. True when logged
    // in; false when that waits for a request (or a login): no source and nothing cached, a
    // PIN refused before, locked. A PIN the token refuses now throws as ensure() does.
    bool restore(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session);

    // Locks: logs out through `session` (CK_INVALID_HANDLE: no session, the token is away) and
    // logs in again for nothing until unlock(): ensure() and login() throw locked.
    void lock(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session) noexcept;
    // Ends the lock after logging in with `pin`, which the token checks: a refused PIN throws
    // pin_incorrect (or pin_locked) and the lock stays.
    void unlock(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, const SecureBytes& pin);
    // Ends the lock without a PIN: the next use logs in with the configured PIN source.
    void unlock() noexcept;
    bool locked() const;
    // When the login in place began (kept across a lost login the PIN cache restores);
    // nullopt when there is none.
    std::optional<std::chrono::steady_clock::time_point> began() const;
    // Ends the login that began at `began` (else does nothing and returns false): logs out
    // through `session` (CK_INVALID_HANDLE: none) and forgets the PIN kept; not locked, so the
    // next use logs in again (asking, or with the configured PIN).
    bool end(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, std::chrono::steady_clock::time_point began) noexcept;

    State state() const;
    std::string last_error() const;
    // Whose PIN the token refused while state() is pin_incorrect or pin_locked; none otherwise.
    PinOrigin refused() const;

private:
    void login_locked(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, std::span<const std::uint8_t> pin,
                      PinOrigin origin);
    // ensure() for a token whose PIN is asked through m_ask.
    void ensure_asking(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session);
    // True when the PIN was checked in place (right: returns; wrong: throws); false when the
    // token cannot check it without logging out.
    bool check_in_place(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, const SecureBytes& pin);
    [[noreturn]] void throw_state() const;
    [[noreturn]] void throw_locked() const;

    PinSource m_source;
    std::string m_subject;
    PinAsker m_ask;
    std::chrono::seconds m_pin_cache_ttl;
    PinCache m_pin_cache;
    // How the last question through m_ask ended when it did not log in: what later looks at
    // the token in the same request report.
    struct AskOutcome {
        Errc errc = Errc::pin_required;
        std::string message;
        std::uint64_t code = 0;
        std::string call;
    };
    AskOutcome m_asked;
    std::mutex m_ask_mutex;  // held while the user is asked (never while holding m_mutex)
    mutable std::mutex m_mutex;
    State m_state = State::logged_out;
    std::optional<std::chrono::steady_clock::time_point> m_began;
    bool m_locked = false;
    PinOrigin m_refused = PinOrigin::none;
    std::string m_error;
};

} // namespace trustkey::backend::pkcs11
