#include "tools/ceremony/ceremony_context.h"

#include <cstdlib>
#include <iostream>

#include "lib/core/error.h"
#include "tools/ceremony/network_check.h"
#include "tools/trustkey/pin_prompt.h"

namespace trustkey::ceremony {

namespace {

std::string operator_name(const std::string& given) {
    if (!given.empty()) return given;
    const char* env = std::getenv(kOperatorEnv);
    if (env != nullptr && *env != '\0') return env;
    std::string line;
    if (tools::stdin_is_terminal()) {
        std::cerr << "Operator name: " << std::flush;
        std::getline(std::cin, line);
    } else {
        // One line, read byte by byte: the PINs may follow on standard input.
        try {
            const SecureBytes read = tools::read_secret("");
            line.assign(read.begin(), read.end());
        } catch (const std::exception&) {
            line.clear();
        }
    }
    if (line.empty())
        throw Error(Errc::invalid_argument, "the operator's name is needed (--operator or $" +
                                                std::string(kOperatorEnv) + ")");
    return line;
}

} // namespace

CeremonyContext::CeremonyContext(GlobalOptions options, const std::string& command)
    : m_options(std::move(options)), m_command(command) {
    std::vector<std::string> up;
    if (m_options.allow_network)
        up = active_network_interfaces();
    else
        require_no_network();
    const std::string name = operator_name(m_options.operator_name);
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f) throw Error(Errc::invalid_argument, "the operator's name holds a control character");
    m_transcript = std::make_unique<Transcript>(m_options.transcript, name);
    nlohmann::json details = {{"command", command}, {"allow_network", m_options.allow_network}};
    if (m_options.allow_network) details["interfaces_up"] = up;
    m_transcript->append(TranscriptEntry{"start", {}, {}, details});
}

std::filesystem::path CeremonyContext::module() const {
    if (!m_options.module.empty()) return m_options.module;
    const char* env = std::getenv(kModuleEnv);
    if (env == nullptr || *env == '\0')
        throw Error(Errc::invalid_argument, "name the PKCS#11 module with --module or $" + std::string(kModuleEnv));
    return env;
}

TpmLocation CeremonyContext::tpm() const {
    TpmLocation tpm{m_options.tpm_tcti, m_options.tpm_state};
    if (tpm.tcti.empty()) {
        const char* env = std::getenv(kTpmTctiEnv);
        tpm.tcti = env != nullptr && *env != '\0' ? env : kDefaultTpmTcti;
    }
    return tpm;
}

CeremonyToken CeremonyContext::open_token(const std::string& uri, std::size_t position) {
    CeremonyToken token = uri == kTpmToken ? CeremonyToken(tpm(), position) : CeremonyToken(module(), uri, position);
    token.login();
    nlohmann::json details = {{"uri", uri}, {"label", token.label()}};
    if (token.is_tpm()) {
        details["tcti"] = token.tpm().tcti;
        details["tpm_state"] = token.tpm().state_dir.string();
    }
    m_transcript->append(TranscriptEntry{"token", {token.serial()}, {}, details});
    return token;
}

std::vector<CeremonyToken> CeremonyContext::open_tokens(const std::vector<std::string>& uris) {
    for (std::size_t i = 0; i < uris.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (uris[j] == uris[i]) throw Error(Errc::invalid_argument, "token " + uris[i] + " is given twice");
    std::vector<CeremonyToken> tokens;
    tokens.reserve(uris.size());
    for (std::size_t i = 0; i < uris.size(); ++i) {
        tokens.push_back(open_token(uris[i], i + 1));
        for (std::size_t j = 0; j < i; ++j)
            if (tokens[j].serial() == tokens[i].serial())
                throw Error(Errc::invalid_argument, uris[j] + " and " + uris[i] + " are the same token (serial " +
                                                        tokens[i].serial() + ")");
    }
    return tokens;
}

void CeremonyContext::record_failure(const std::string& what) noexcept {
    try {
        m_transcript->append(TranscriptEntry{"failed", {}, {}, {{"command", m_command}, {"error", what}}});
    } catch (...) {
        // The failure is reported on stderr in any case.
    }
}

} // namespace trustkey::ceremony
