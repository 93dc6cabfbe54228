#include "tools/trustkey/output.h"

#include <algorithm>
#include <span>

#include <fmt/format.h>

#include "lib/keys/public_key.h"
#include "lib/core/error.h"
#include "tools/trustkey/failure.h"
#include "tools/trustkey/key_types.h"

namespace trustkey::tools {

namespace pb = proto::pb;

namespace {

std::string printable(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) c = '?';
    }
    return out;
}

std::span<const std::uint8_t> spki_of(const pb::KeyInfo& key) {
    return {reinterpret_cast<const std::uint8_t*>(key.public_key().data()), key.public_key().size()};
}

keys::KeyType backend_type_of(const pb::KeyInfo& key) {
    const auto t = to_key_type(key.type());
    if (!t) throw Failure::failed(fmt::format("key {} has a key type this tool does not know", key.id()));
    return *t;
}

const char* yes_no(bool b) { return b ? "yes" : "no"; }

// Which PIN the token refused: "configured", "login", "pinentry", or null.
nlohmann::json pin_refused_json(pb::PinOrigin o) {
    if (o == pb::PIN_ORIGIN_CONFIGURED) return "configured";
    if (o == pb::PIN_ORIGIN_LOGIN) return "login";
    if (o == pb::PIN_ORIGIN_PINENTRY) return "pinentry";
    return nullptr;
}

} // namespace

std::string short_id(std::string_view id) { return std::string(id.substr(0, 12)); }

std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths(header.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    };
    measure(header);
    for (const auto& r : rows) measure(r);
    std::string out;
    auto emit = [&](const std::vector<std::string>& row) {
        std::string line;
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            const std::string cell = printable(row[i]);
            line += cell;
            if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
        }
        out += line + '\n';
    };
    emit(header);
    for (const auto& r : rows) emit(r);
    return out;
}

std::string public_key_pem(const pb::KeyInfo& key) {
    try {
        return keys::spki_to_pem(spki_of(key));
    } catch (const Error& e) {
        throw Failure::failed(fmt::format("key {}: unreadable public key: {}", key.id(), e.message()));
    }
}

std::string tuf_key_json(const pb::KeyInfo& key) {
    const auto type = backend_type_of(key);
    try {
        return keys::tuf_key_json(type, spki_of(key));
    } catch (const Error& e) {
        throw Failure::failed(fmt::format("key {}: unreadable public key: {}", key.id(), e.message()));
    }
}

std::string key_uses_text(const pb::KeyInfo& key) {
    std::string out;
    for (const auto& use : key.uses()) {
        if (!out.empty()) out += ", ";
        out += use.repository().empty() ? use.role() : use.repository() + " " + use.role();
    }
    return out.empty() ? "-" : out;
}

std::string key_table(const std::vector<pb::KeyInfo>& keys) {
    std::vector<std::vector<std::string>> rows;
    rows.reserve(keys.size());
    for (const auto& k : keys) {
        rows.push_back(
            {short_id(k.id()), k.name(), std::string(key_type_label(k.type())), k.backend(), key_uses_text(k)});
        // The ids notary gives the key's certificates (a root key's, in root.json), under the key.
        for (const auto& cert_id : k.certificate_ids()) rows.push_back({"  " + short_id(cert_id), "(certificate id)"});
    }
    return format_table({"ID", "NAME", "TYPE", "BACKEND", "USE"}, rows);
}

nlohmann::json key_json(const pb::KeyInfo& key) {
    nlohmann::json uses = nlohmann::json::array();
    for (const auto& use : key.uses()) uses.push_back({{"repository", use.repository()}, {"role", use.role()}});
    nlohmann::json ids = nlohmann::json::array({key.id()});
    for (const auto& cert_id : key.certificate_ids()) ids.push_back(cert_id);
    return {
        {"id", key.id()},
        {"name", key.name()},
        {"type", key_type_label(key.type())},
        {"backend", key.backend()},
        {"uses", uses},
        {"certificate_ids", std::vector<std::string>(key.certificate_ids().begin(), key.certificate_ids().end())},
        {"ids", ids},
        {"public_key_pem", public_key_pem(key)},
    };
}

std::string status_text(const pb::StatusReply& status) {
    std::string out = fmt::format("Server:       {}\nProtocol:     {}\nConnections:  {}\nUptime:       {}s\n",
                                  printable(status.server()), status.version(), status.connections(),
                                  status.uptime_seconds());
    out += fmt::format("Locked:       {}\n", status.locked() ? "yes (trustkey unlock)" : "no");
    if (status.idle_lock_seconds() > 0)
        out += fmt::format("Idle lock:    after {}s without use\n", status.idle_lock_seconds());
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : status.tokens()) {
        std::string pin;
        if (t.pin_locked()) pin = "locked";
        else if (t.pin_final_try()) pin = "final-try";
        else if (t.pin_count_low()) pin = "count-low";
        else pin = "ok";
        rows.push_back({t.backend(), t.kind(), t.label(), yes_no(t.present()), yes_no(t.logged_in()),
                        std::to_string(t.key_count()), pin, t.error().empty() ? "-" : t.error()});
    }
    out += '\n';
    out += format_table({"BACKEND", "KIND", "LABEL", "PRESENT", "LOGGED IN", "KEYS", "PIN", "ERROR"}, rows);
    std::string waiting;
    for (const auto& t : status.tokens())
        for (const auto& name : t.keys_awaiting_auth())
            waiting += fmt::format("Key '{}' on '{}' waits for its authorization value (run: trustkey login --key {})\n",
                                   printable(name), printable(t.backend()), printable(name));
    for (const auto& t : status.tokens()) {
        // Which PIN was refused decides what to do about it.
        if (t.pin_refused() == pb::PIN_ORIGIN_CONFIGURED)
            waiting += fmt::format("Token '{}' refused the PIN in trustkeyd's configuration (pin_file or pin_env); "
                                   "correct it, or run: trustkey login --backend {}\n",
                                   printable(t.backend()), printable(t.backend()));
        else if (t.pin_refused() == pb::PIN_ORIGIN_PINENTRY)
            waiting += fmt::format("Token '{}' refused the PIN entered in pinentry; the next request asks again, or "
                                   "run: trustkey login --backend {}\n",
                                   printable(t.backend()), printable(t.backend()));
        else if (t.pin_refused() == pb::PIN_ORIGIN_LOGIN)
            waiting += fmt::format("Token '{}' refused the PIN given to trustkey login; run: trustkey login "
                                   "--backend {}\n",
                                   printable(t.backend()), printable(t.backend()));
    }
    for (const auto& t : status.tokens())
        if (t.login_ends_in_seconds() > 0)
            waiting += fmt::format("Token '{}' stays logged in for {} s more (login lifetime {} s)\n",
                                   printable(t.backend()), t.login_ends_in_seconds(), t.login_lifetime_seconds());
    if (!waiting.empty()) out += '\n' + waiting;
    return out;
}

nlohmann::json status_json(const pb::StatusReply& status) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& t : status.tokens()) {
        tokens.push_back({
            {"backend", t.backend()},
            {"kind", t.kind()},
            {"location", t.location()},
            {"label", t.label()},
            {"manufacturer", t.manufacturer()},
            {"model", t.model()},
            {"serial", t.serial()},
            {"present", t.present()},
            {"logged_in", t.logged_in()},
            {"key_count", t.key_count()},
            {"sessions", t.sessions()},
            {"pin_count_low", t.pin_count_low()},
            {"pin_final_try", t.pin_final_try()},
            {"pin_locked", t.pin_locked()},
            {"pin_refused", pin_refused_json(t.pin_refused())},
            {"login_lifetime_seconds", t.login_lifetime_seconds()},
            {"login_ends_in_seconds", t.login_ends_in_seconds()},
            {"error", t.error()},
            {"keys_awaiting_auth", nlohmann::json(std::vector<std::string>(t.keys_awaiting_auth().begin(),
                                                                           t.keys_awaiting_auth().end()))},
        });
    }
    return {
        {"server", status.server()},
        {"protocol_version", status.version()},
        {"connections", status.connections()},
        {"uptime_seconds", status.uptime_seconds()},
        {"dropped_requests", status.dropped_requests()},
        {"threads", status.threads()},
        {"locked", status.locked()},
        {"idle_lock_seconds", status.idle_lock_seconds()},
        {"tokens", tokens},
    };
}

std::string dump_json(const nlohmann::json& j) {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

} // namespace trustkey::tools
