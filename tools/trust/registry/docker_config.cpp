#include "tools/trust/registry/docker_config.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/registry/credential_helper.h"

namespace trustkey::registry {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxConfigSize = 4 * 1024 * 1024;

[[noreturn]] void bad_config(const std::string& source, const std::string& why) {
    throw Error(Errc::config, "docker config " + source + ": " + why, 0, "read docker config", source);
}

std::string string_field(const nlohmann::json& obj, const char* name, const std::string& source,
                         const std::string& where) {
    if (!obj.contains(name)) return {};
    if (!obj[name].is_string()) bad_config(source, where + "." + name + " is not a string");
    return obj[name].get<std::string>();
}

} // namespace

std::string DockerConfig::normalise_server(std::string_view server) {
    std::string s(server);
    for (const char* scheme : {"https://", "http://"})
        if (s.rfind(scheme, 0) == 0) s = s.substr(std::string_view(scheme).size());
    s = s.substr(0, s.find('/'));
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "index.docker.io" || s == "registry-1.docker.io" || s == "registry.hub.docker.com") s = "docker.io";
    return s;
}

DockerConfig DockerConfig::load_default() {
    fs::path dir;
    if (const char* d = std::getenv("DOCKER_CONFIG"); d != nullptr && *d != '\0')
        dir = d;
    else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
        dir = fs::path(home) / ".docker";
    else
        return {};
    const fs::path file = dir / "config.json";
    std::error_code ec;
    if (!fs::exists(file, ec)) return {};
    return load(file);
}

DockerConfig DockerConfig::load(const fs::path& config_json) {
    std::error_code ec;
    const auto size = fs::file_size(config_json, ec);
    if (ec) bad_config(config_json.string(), "cannot read: " + ec.message());
    if (size > kMaxConfigSize) bad_config(config_json.string(), "larger than 4 MiB");
    std::ifstream in(config_json, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) bad_config(config_json.string(), "cannot read");
    std::string content = text.str();
    DockerConfig config = parse(content, config_json.string());
    wipe(content);
    return config;
}

DockerConfig DockerConfig::parse(std::string_view json_text, const std::string& source) {
    const auto json = nlohmann::json::parse(json_text, nullptr, false);
    if (json.is_discarded()) bad_config(source, "not valid JSON");
    if (!json.is_object()) bad_config(source, "not a JSON object");
    DockerConfig config;
    config.m_source = source;
    if (json.contains("auths")) {
        const auto& auths = json["auths"];
        if (!auths.is_object()) bad_config(source, "\"auths\" is not an object");
        for (const auto& [server, entry] : auths.items()) {
            if (!entry.is_object()) bad_config(source, "auths." + server + " is not an object");
            const std::string where = "auths." + server;
            AuthEntry e;
            e.auth = string_field(entry, "auth", source, where);
            e.identity_token = string_field(entry, "identitytoken", source, where);
            e.username = string_field(entry, "username", source, where);
            e.password = string_field(entry, "password", source, where);
            config.m_auths[normalise_server(server)] = std::move(e);
        }
    }
    if (json.contains("credHelpers")) {
        const auto& helpers = json["credHelpers"];
        if (!helpers.is_object()) bad_config(source, "\"credHelpers\" is not an object");
        for (const auto& [server, name] : helpers.items()) {
            if (!name.is_string() || name.get<std::string>().empty())
                bad_config(source, "credHelpers." + server + " is not a helper name");
            config.m_helpers[normalise_server(server)] = name.get<std::string>();
        }
    }
    config.m_store = string_field(json, "credsStore", source, "");
    return config;
}

std::optional<Credentials> DockerConfig::credentials_for(const std::string& registry) const {
    const std::string host = normalise_server(registry);
    const std::string server_url = host == "docker.io" ? kDockerHubServerUrl : host;

    std::string helper;
    if (const auto it = m_helpers.find(host); it != m_helpers.end())
        helper = it->second;
    else
        helper = m_store;
    if (!helper.empty()) return CredentialHelper(helper).get(server_url);

    const auto it = m_auths.find(host);
    if (it == m_auths.end()) return std::nullopt;
    const AuthEntry& e = it->second;
    Credentials creds;
    if (!e.auth.empty()) {
        auto decoded = from_base64(e.auth);
        if (!decoded) bad_config(m_source, "auths entry for " + host + " has an \"auth\" that is not base64");
        SecureBytes plain(decoded->begin(), decoded->end());
        wipe(*decoded);
        const std::string_view text = as_string_view(plain);
        const auto colon = text.find(':');
        if (colon == std::string_view::npos)
            bad_config(m_source, "auths entry for " + host + " has an \"auth\" that is not base64 of user:password");
        creds.username = std::string(text.substr(0, colon));
        creds.password = secure_from(text.substr(colon + 1));
    } else if (!e.username.empty()) {
        creds.username = e.username;
        creds.password = secure_from(e.password);
    }
    if (!e.identity_token.empty()) creds.identity_token = secure_from(e.identity_token);
    if (creds.username.empty() && creds.identity_token.empty()) return std::nullopt;
    return creds;
}

} // namespace trustkey::registry
