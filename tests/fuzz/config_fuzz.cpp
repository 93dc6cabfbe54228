// The daemon's TOML configuration parser on arbitrary text. Only trustkey::Error
// (Errc::config) may leave it, and an accepted configuration must satisfy every
// rule the parser promises.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "daemon/config/config.h"
#include "lib/core/error.h"
#include "lib/core/log.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace trustkey;

void check_accepted(const config::Config& cfg) {
    FUZZ_CHECK(cfg.max_connections >= 1 && cfg.max_connections <= 65536, "max_connections out of range");
    FUZZ_CHECK(cfg.frame_timeout_seconds >= 1 && cfg.frame_timeout_seconds <= 3600,
               "frame_timeout_seconds out of range");
    if (cfg.log_level) FUZZ_CHECK(log::valid_level(*cfg.log_level), "an invalid log level was accepted");
    if (cfg.socket) {
        FUZZ_CHECK(!cfg.socket->empty(), "an empty socket path was accepted");
        FUZZ_CHECK(config::resolve_socket_path(std::nullopt, cfg) == *cfg.socket,
                   "the configured socket is not the one used");
    }
    std::set<std::string> names;
    for (const auto& p : cfg.pkcs11) {
        FUZZ_CHECK(!p.name.empty() && !p.module.empty(), "a [[pkcs11]] table without name or module was accepted");
        FUZZ_CHECK(names.insert(p.name).second, "two [[pkcs11]] tables with one name were accepted");
        FUZZ_CHECK(p.token_uri.empty() || p.token_uri.rfind("pkcs11:", 0) == 0, "a token URI without pkcs11:");
        FUZZ_CHECK(p.sessions >= 1 && p.sessions <= 256, "sessions out of range");
        FUZZ_CHECK(p.pin.kind == backend::pkcs11::PinSource::Kind::none || !p.pin.ref.empty(),
                   "a PIN source without a reference");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        check_accepted(config::Config::parse(text, "fuzz.toml"));
    } catch (const Error& e) {
        FUZZ_CHECK(e.errc() == Errc::config, "the configuration parser threw another error code");
        FUZZ_CHECK(*e.what() != '\0', "an error without a message");
    }
    return 0;
}
