#include "lib/backend/pkcs11/embedded_token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <openssl/rand.h>

#include "lib/backend/pkcs11/ck_error.h"
#include "lib/backend/pkcs11/module.h"
#include "lib/backend/pkcs11/session.h"
#include "lib/backend/pkcs11/token_login.h"
#include "lib/backend/pkcs11/token_uri.h"
#include "lib/backend/pkcs11/token_info.h"
#include "lib/core/encoding.h"
#include "lib/core/unique_fd.h"

namespace trustkey::backend::pkcs11 {

namespace fs = std::filesystem;

namespace {

void make_private_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(Errc::io, "cannot create directory: " + ec.message(), static_cast<std::uint64_t>(ec.value()),
                        "mkdir", dir.string());
    if (::chmod(dir.c_str(), 0700) != 0) throw_errno("chmod", errno, dir.string());
}

// Writes `content` to `path` through a temporary file, fsync and rename.
void write_atomically(const fs::path& path, std::string_view content, mode_t mode) {
    fs::path tmp = path;
    tmp += ".tmp";
    ::unlink(tmp.c_str());
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd) throw_errno("open", errno, tmp.string());
    std::size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write", errno, tmp.string());
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) throw_errno("fsync", errno, tmp.string());
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename", errno, path.string());
    UniqueFd dir(::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir) ::fsync(dir.get());
}

SecureBytes random_pin() {
    unsigned char raw[8];
    if (RAND_bytes(raw, sizeof raw) != 1) throw Error(Errc::internal, "no random bytes for a PIN", 0, "RAND_bytes");
    std::string hex = to_hex(raw);
    SecureBytes pin = secure_from(hex);
    wipe(hex);
    OPENSSL_cleanse(raw, sizeof raw);
    return pin;
}

std::string embedded_token_uri() { return std::string("pkcs11:token=") + kEmbeddedTokenLabel; }

// The embedded token, found by the URI its backend is configured with; nullopt when there
// is none yet. Two tokens of that label are refused as any ambiguous URI is.
std::optional<CK_SLOT_ID> embedded_slot(CK_FUNCTION_LIST* fn) {
    try {
        return static_cast<CK_SLOT_ID>(find_token(fn, TokenUri(embedded_token_uri())).id);
    } catch (const Error& e) {
        if (e.errc() == Errc::token_absent) return std::nullopt;
        throw;
    }
}

// A slot without an initialized token.
std::optional<CK_SLOT_ID> free_slot(CK_FUNCTION_LIST* fn) {
    CK_ULONG count = 0;
    check_rv("C_GetSlotList", fn->C_GetSlotList(CK_TRUE, nullptr, &count));
    std::vector<CK_SLOT_ID> slots(count);
    if (count > 0) check_rv("C_GetSlotList", fn->C_GetSlotList(CK_TRUE, slots.data(), &count));
    slots.resize(count);
    for (CK_SLOT_ID slot : slots) {
        CK_TOKEN_INFO info{};
        if (get_token_info(fn, slot, info) != CKR_OK) continue;
        if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) return slot;
    }
    return std::nullopt;
}

void init_token(CK_FUNCTION_LIST* fn, const std::shared_ptr<Module>& module, const SecureBytes& user_pin,
                const SecureBytes& so_pin) {
    const auto empty = free_slot(fn);
    if (!empty) throw Error(Errc::token_error, "the module has no free slot for a new token", 0, "C_GetSlotList");
    CK_UTF8CHAR label[32];
    std::memset(label, ' ', sizeof label);
    std::memcpy(label, kEmbeddedTokenLabel, std::strlen(kEmbeddedTokenLabel));
    SecureBytes so = so_pin, user = user_pin;
    check_rv("C_InitToken", fn->C_InitToken(*empty, so.data(), static_cast<CK_ULONG>(so.size()), label),
             kEmbeddedTokenLabel);
    // Slot ids may change once a token is initialized: look it up again.
    auto slot = embedded_slot(fn);
    if (!slot) throw Error(Errc::token_error, "the new token cannot be found", 0, "C_GetSlotList", kEmbeddedTokenLabel);
    Session session(module, *slot);
    check_rv("C_Login", fn->C_Login(session.get(), CKU_SO, so.data(), static_cast<CK_ULONG>(so.size())),
             kEmbeddedTokenLabel);
    CK_RV rv = fn->C_InitPIN(session.get(), user.data(), static_cast<CK_ULONG>(user.size()));
    fn->C_Logout(session.get());
    check_rv("C_InitPIN", rv, kEmbeddedTokenLabel);
}

} // namespace

Pkcs11Config ensure_embedded_token(const fs::path& data_dir, const fs::path& softhsm_module) {
    make_private_dir(data_dir);
    make_private_dir(data_dir / "tokens");

    fs::path conf = data_dir / "softhsm2.conf";
    if (!fs::exists(conf)) {
        std::string text = "# SoftHSM2 settings of the trustkey embedded token\n"
                           "directories.tokendir = " + (data_dir / "tokens").string() + "\n"
                           "objectstore.backend = file\n"
                           "log.level = ERROR\n";
        write_atomically(conf, text, 0600);
    }
    ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);

    fs::path pins = data_dir / "pins";
    PinSource pin_source{PinSource::Kind::file, pins.string()};
    bool have_pins = fs::exists(pins);

    auto module = Module::open(softhsm_module);
    CK_FUNCTION_LIST* fn = module->fn();
    bool have_token = embedded_slot(fn).has_value();
    if (have_token && !have_pins)
        throw Error(Errc::config, "the embedded token exists but its PIN file is missing", 0, {}, pins.string());
    if (!have_token) {
        SecureBytes user_pin, so_pin;
        if (have_pins) {
            user_pin = read_pin(pin_source);
            // The SO PIN is the "so_pin=" line of the same file.
            SecureBytes content;
            {
                UniqueFd fd(::open(pins.c_str(), O_RDONLY | O_CLOEXEC));
                if (!fd) throw_errno("open", errno, pins.string());
                content.resize(4096);
                ssize_t n = ::read(fd.get(), content.data(), content.size());
                if (n < 0) throw_errno("read", errno, pins.string());
                content.resize(static_cast<std::size_t>(n));
            }
            std::string_view text = as_string_view(content);
            auto pos = text.find("so_pin=");
            if (pos == std::string_view::npos)
                throw Error(Errc::config, "the PIN file has no so_pin line", 0, {}, pins.string());
            auto end = text.find('\n', pos);
            so_pin = secure_from(text.substr(pos + 7, end == std::string_view::npos ? end : end - pos - 7));
        } else {
            user_pin = random_pin();
            so_pin = random_pin();
            SecureBytes content = secure_from("user_pin=");
            content.insert(content.end(), user_pin.begin(), user_pin.end());
            for (char c : std::string_view("\nso_pin=")) content.push_back(static_cast<std::uint8_t>(c));
            content.insert(content.end(), so_pin.begin(), so_pin.end());
            content.push_back('\n');
            write_atomically(pins, as_string_view(content), 0600);
        }
        init_token(fn, module, user_pin, so_pin);
    }

    Pkcs11Config config;
    config.name = kEmbeddedTokenLabel;
    config.module = softhsm_module;
    config.token_uri = embedded_token_uri();
    config.pin = pin_source;
    return config;
}

fs::path default_data_dir() {
    const char* xdg = std::getenv("XDG_DATA_HOME");
    if (xdg != nullptr && *xdg == '/') return fs::path(xdg) / "trustkey";
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0')
        throw Error(Errc::config, "neither XDG_DATA_HOME nor HOME is set; cannot place the embedded token");
    return fs::path(home) / ".local" / "share" / "trustkey";
}

} // namespace trustkey::backend::pkcs11
