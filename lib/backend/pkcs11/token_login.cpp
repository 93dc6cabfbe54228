#include "lib/backend/pkcs11/token_login.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/token_uri.h"
#include "lib/backend/pkcs11/token_info.h"
#include "lib/core/locked_bytes.h"
#include "lib/core/unique_fd.h"

namespace trustkey::backend::pkcs11 {

namespace {

constexpr std::size_t kMaxPinFile = 4096;

SecureBytes read_file_secure(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw Error(Errc::config, std::string("cannot read the PIN file: ") + std::strerror(errno), errno, "open", path);
    SecureBytes content(kMaxPinFile + 1);
    std::size_t used = 0;
    while (used < content.size()) {
        ssize_t n = ::read(fd.get(), content.data() + used, content.size() - used);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(Errc::config, "cannot read the PIN file", errno, "read", path);
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    if (used > kMaxPinFile) throw Error(Errc::config, "the PIN file is too large", 0, {}, path);
    content.resize(used);
    return content;
}

// The PIN in a file's content: the value of a "user_pin=" line, else the
// content without trailing line breaks.
SecureBytes pin_from_file_content(const SecureBytes& content) {
    std::string_view text = as_string_view(content);
    constexpr std::string_view kKey = "user_pin=";
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.substr(0, kKey.size()) == kKey) return secure_from(line.substr(kKey.size()));
        pos = end + 1;
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    return secure_from(text);
}

} // namespace

SecureBytes read_pin(const PinSource& source) {
    SecureBytes pin;
    switch (source.kind) {
    case PinSource::Kind::none:
        throw Error(Errc::pin_required, "the token needs a PIN and no PIN source is configured; log in first");
    case PinSource::Kind::env: {
        const char* value = std::getenv(source.ref.c_str());
        if (value == nullptr)
            throw Error(Errc::pin_required, "the PIN variable is not set", 0, {}, source.ref);
        pin = secure_from(value);
        break;
    }
    case PinSource::Kind::file: pin = pin_from_file_content(read_file_secure(source.ref)); break;
    }
    if (pin.empty()) throw Error(Errc::pin_required, "the PIN source is empty", 0, {}, source.ref);
    return pin;
}

namespace {

std::string describe(const PinSource& source) {
    switch (source.kind) {
    case PinSource::Kind::env: return "pin_env " + source.ref;
    case PinSource::Kind::file: return "pin_file " + source.ref;
    case PinSource::Kind::none: break;
    }
    return "none";
}

// The token of `session` as CK_TOKEN_INFO; false when the module does not say.
bool token_info_of(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_SLOT_ID& slot, CK_TOKEN_INFO& info) {
    CK_SESSION_INFO si{};
    if (fn->C_GetSessionInfo(session, &si) != CKR_OK) return false;
    slot = si.slotID;
    return get_token_info(fn, si.slotID, info) == CKR_OK;
}

// What the token says of the tries left, as a clause to append ("; one try left …"),
// empty when it says nothing.
std::string tries_left(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session) {
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO info{};
    if (!token_info_of(fn, session, slot, info)) return {};
    if ((info.flags & CKF_USER_PIN_LOCKED) != 0) return "; the PIN is now locked";
    if ((info.flags & CKF_USER_PIN_FINAL_TRY) != 0) return "; one try left before the PIN locks";
    if ((info.flags & CKF_USER_PIN_COUNT_LOW) != 0) return "; the token reports few tries left";
    return {};
}

} // namespace

void TokenLogin::ensure(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session) {
    std::unique_lock lock(m_mutex);
    if (m_locked) throw_locked();
    if (m_state == State::logged_in) return;
    if (m_source.kind == PinSource::Kind::none && m_ask) {
        lock.unlock();
        return ensure_asking(fn, session);
    }
    if (m_state != State::logged_out) throw_state();
    SecureBytes pin = read_pin(m_source);
    login_locked(fn, session, pin, PinOrigin::configured);
}

void TokenLogin::ensure_asking(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session) {
    // One question at a time: requests that wait here find the token logged in by the
    // answer to the first, instead of asking again.
    std::lock_guard asking(m_ask_mutex);
    std::unique_lock lock(m_mutex);
    if (m_locked) throw_locked();
    if (m_state == State::logged_in) return;
    if (m_state == State::pin_locked) throw_state();
    // A lost login comes back with the PIN typed before, while it is kept.
    if (m_state == State::logged_out) {
        if (const auto kept = m_pin_cache.get()) {
            try {
                const auto began = m_began;  // the login the kept PIN restores began then
                login_locked(fn, session, *kept, PinOrigin::pinentry);
                if (began) m_began = began;
                return;
            } catch (const Error&) {
                m_pin_cache.clear();
                throw;
            }
        }
    }
    const std::optional<std::string> purpose = PinPurpose::current();
    if (!purpose || !PinPurpose::first_ask(m_subject)) {
        // No one waits on this work, or this request asked already: never a second
        // question (nor a second try of a refused PIN) on its own. This request's
        // answer is what it reports.
        if (purpose && !m_asked.message.empty())
            throw Error(m_asked.errc, m_asked.message, m_asked.code, m_asked.call, m_subject);
        if (m_state != State::logged_out) throw_state();
        throw Error(Errc::pin_required,
                    purpose ? "the token needs its PIN; this request asked for it already"
                            : "the token needs its PIN; trustkeyd asks for it through pinentry when a request uses "
                              "the token (or run trustkey login)",
                    0, {}, m_subject);
    }
    PinQuestion question;
    question.purpose = *purpose;
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO info{};
    if (token_info_of(fn, session, slot, info)) {
        TokenSlot token = token_slot_of(slot, info);
        question.token = std::move(token.label);
        question.serial = std::move(token.serial);
    }
    if (m_state == State::pin_incorrect) question.error = "The PIN was wrong" + tries_left(fn, session) + ".";
    // Not under m_mutex while the user types: status queries go on meanwhile.
    lock.unlock();
    std::optional<LockedBytes> pin;
    try {
        pin = m_ask(question);
    } catch (const Error& e) {
        lock.lock();
        m_asked = {e.errc(), e.message(), e.code(), e.call()};
        throw;
    }
    lock.lock();
    try {
        if (!pin || pin->empty())
            throw Error(Errc::pin_required, "the PIN entry was cancelled", 0, "pinentry", m_subject);
        if (m_state == State::logged_in) return;  // an explicit login came first
        login_locked(fn, session, *pin, PinOrigin::pinentry);
    } catch (const Error& e) {
        m_asked = {e.errc(), e.message(), e.code(), e.call()};
        throw;
    }
    m_asked = {};
    m_pin_cache.put(*pin, m_pin_cache_ttl);
}

void TokenLogin::login(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, const SecureBytes& pin) {
    std::lock_guard lock(m_mutex);
    if (m_locked) throw_locked();
    if (pin.empty()) throw Error(Errc::invalid_argument, "empty PIN", 0, {}, m_subject);
    if (m_state == State::logged_in) {
        if (check_in_place(fn, session, pin)) return;
        fn->C_Logout(session);  // this token cannot check a PIN while logged in
    }
    m_state = State::logged_out;
    login_locked(fn, session, pin, PinOrigin::login);
}

bool TokenLogin::check_in_place(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, const SecureBytes& pin) {
    // PKCS#11 has no "verify PIN" call, and C_Login on a logged-in token answers
    // CKR_USER_ALREADY_LOGGED_IN without looking at the PIN. Setting the PIN to itself
    // checks the old PIN first and keeps the login (a wrong one counts as a failed try).
    SecureBytes old_pin = pin, new_pin = pin;
    const auto len = static_cast<CK_ULONG>(pin.size());
    const CK_RV rv = fn->C_SetPIN(session, old_pin.data(), len, new_pin.data(), len);
    if (rv == CKR_OK) {
        // Logged in still (or again, should the token have dropped the login meanwhile).
        SecureBytes copy = pin;
        const CK_RV login_rv = fn->C_Login(session, CKU_USER, copy.data(), len);
        if (login_rv != CKR_OK && login_rv != CKR_USER_ALREADY_LOGGED_IN) {
            m_state = State::logged_out;
            throw ck_error("C_Login", login_rv, m_subject);
        }
        m_error.clear();
        m_began = std::chrono::steady_clock::now();  // the user gave the PIN again: a new login
        return true;
    }
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE) {
        throw ck_error(Errc::pin_incorrect, "the token refused the PIN; it stays logged in with the PIN it had",
                       "C_SetPIN", rv, m_subject);
    }
    if (rv == CKR_PIN_LOCKED)
        throw ck_error(Errc::pin_locked, "the token's user PIN is locked", "C_SetPIN", rv, m_subject);
    return false;
}

void TokenLogin::login_locked(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, std::span<const std::uint8_t> pin,
                              PinOrigin origin) {
    // PKCS#11 takes a non-const pointer; the module does not write through it.
    LockedBytes copy(pin.begin(), pin.end());
    CK_RV rv = fn->C_Login(session, CKU_USER, copy.data(), static_cast<CK_ULONG>(copy.size()));
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        m_began = std::chrono::steady_clock::now();
        m_state = State::logged_in;
        m_refused = PinOrigin::none;
        m_error.clear();
        return;
    }
    Error err = ck_error("C_Login", rv, m_subject);
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE) {
        m_state = State::pin_incorrect;
        m_refused = origin;
        std::string why = origin == PinOrigin::configured
                              ? "the token refused the configured PIN (" + describe(m_source) + ")"
                          : origin == PinOrigin::pinentry
                              ? "the token refused the PIN entered in pinentry" + tries_left(fn, session) +
                                    "; it is not tried again: the next request asks again"
                              : std::string("the token refused the PIN given to trustkey login");
        err = ck_error(Errc::pin_incorrect, why, "C_Login", rv, m_subject);
    } else if (rv == CKR_PIN_LOCKED) {
        m_state = State::pin_locked;
        m_refused = origin;
    }
    m_error = err.what();
    throw err;
}

void TokenLogin::forget() noexcept {
    std::lock_guard lock(m_mutex);
    if (m_state == State::logged_in) m_state = State::logged_out;
}

bool TokenLogin::restore(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session) {
    std::lock_guard lock(m_mutex);
    if (m_locked) return false;
    if (m_state == State::logged_in) return true;
    if (m_state != State::logged_out) return false;  // a refused PIN is not tried again on its own
    if (m_source.kind == PinSource::Kind::none) {
        if (!m_ask) return false;
        const auto kept = m_pin_cache.get();
        if (!kept) return false;
        try {
            const auto began = m_began;  // a token put back keeps the lifetime of the login it had
            login_locked(fn, session, *kept, PinOrigin::pinentry);
            if (began) m_began = began;
        } catch (const Error&) {
            m_pin_cache.clear();
            throw;
        }
        return true;
    }
    SecureBytes pin = read_pin(m_source);
    login_locked(fn, session, pin, PinOrigin::configured);
    return true;
}

void TokenLogin::lock(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session) noexcept {
    std::lock_guard lock(m_mutex);
    m_locked = true;
    m_pin_cache.clear();  // a PIN typed into pinentry is not kept across a lock
    if (fn != nullptr && session != CK_INVALID_HANDLE) fn->C_Logout(session);  // not logged in: nothing to undo
    if (m_state == State::logged_in) m_state = State::logged_out;
    m_began.reset();
}

std::optional<std::chrono::steady_clock::time_point> TokenLogin::began() const {
    std::lock_guard lock(m_mutex);
    return m_began;
}

bool TokenLogin::end(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                     std::chrono::steady_clock::time_point began) noexcept {
    std::lock_guard lock(m_mutex);
    if (!m_began || *m_began != began) return false;
    m_pin_cache.clear();
    if (fn != nullptr && session != CK_INVALID_HANDLE) fn->C_Logout(session);  // not logged in: nothing to undo
    if (m_state == State::logged_in) m_state = State::logged_out;
    m_began.reset();
    return true;
}

void TokenLogin::unlock(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, const SecureBytes& pin) {
    std::lock_guard lock(m_mutex);
    if (pin.empty()) throw Error(Errc::invalid_argument, "empty PIN", 0, {}, m_subject);
    try {
        login_locked(fn, session, pin, PinOrigin::login);
    } catch (const Error& e) {
        if (e.errc() != Errc::pin_incorrect) throw;
        m_error = "the token refused the PIN given to unlock trustkeyd";
        throw Error(Errc::pin_incorrect, m_error, e.code(), e.call(), m_subject).with_domain(e.domain());
    }
    m_locked = false;
}

void TokenLogin::unlock() noexcept {
    std::lock_guard lock(m_mutex);
    m_locked = false;
}

bool TokenLogin::locked() const {
    std::lock_guard lock(m_mutex);
    return m_locked;
}

void TokenLogin::throw_locked() const {
    throw Error(Errc::locked, "trustkeyd is locked; unlock it with the token's PIN (trustkey unlock)", 0, {},
                m_subject);
}

TokenLogin::State TokenLogin::state() const {
    std::lock_guard lock(m_mutex);
    return m_state;
}

std::string TokenLogin::last_error() const {
    std::lock_guard lock(m_mutex);
    return m_error;
}

PinOrigin TokenLogin::refused() const {
    std::lock_guard lock(m_mutex);
    return m_state == State::logged_in ? PinOrigin::none : m_refused;
}

void TokenLogin::throw_state() const {
    if (m_state == State::pin_locked)
        throw Error(Errc::pin_locked, "the token's user PIN is locked", CKR_PIN_LOCKED, "C_Login", m_subject);
    if (m_refused == PinOrigin::pinentry)
        throw Error(Errc::pin_incorrect,
                    "the token refused the PIN entered in pinentry; it is asked again when a request uses the token",
                    CKR_PIN_INCORRECT, "C_Login", m_subject);
    if (m_refused == PinOrigin::login)
        throw Error(Errc::pin_incorrect,
                    "the token refused the PIN given to trustkey login; it is not logged in until a login with "
                    "the right PIN",
                    CKR_PIN_INCORRECT, "C_Login", m_subject);
    throw Error(Errc::pin_incorrect,
                "the token refused the configured PIN (" + describe(m_source) +
                    "); it is not tried again until an explicit login",
                CKR_PIN_INCORRECT, "C_Login", m_subject);
}

} // namespace trustkey::backend::pkcs11
