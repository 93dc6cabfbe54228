// What every ceremony command shares: the global options, the network check, the
// operator's name, the transcript and the tokens.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/ceremony/ceremony_token.h"
#include "tools/ceremony/transcript.h"

namespace trustkey::ceremony {

inline constexpr const char* kOperatorEnv = "TRUSTKEY_CEREMONY_OPERATOR";
inline constexpr const char* kModuleEnv = "TRUSTKEY_PKCS11_MODULE";

struct GlobalOptions {
    bool allow_network = false;
    std::filesystem::path transcript = "ceremony-transcript.jsonl";
    std::string operator_name;         // empty: $TRUSTKEY_CEREMONY_OPERATOR, else asked
    std::filesystem::path module;      // empty: $TRUSTKEY_PKCS11_MODULE
    std::string tpm_tcti;              // empty: $TRUSTKEY_TPM_TCTI, else device:/dev/tpmrm0
    std::filesystem::path tpm_state;   // the TPM's key blobs; each command defaults it to <keys>/tpm
};

class CeremonyContext {
public:
    // Runs the network check (Error(denied) unless allow_network), asks the operator's name
    // when not given, opens the transcript and records the start of `command` in it,
    // with the interfaces that were up when --allow-network was given.
    CeremonyContext(GlobalOptions options, const std::string& command);

    Transcript& transcript() noexcept { return *m_transcript; }
    // Opens each token (Error(token_absent) naming the URI) and logs in to each, one after
    // another, with the PIN for its position.
    std::vector<CeremonyToken> open_tokens(const std::vector<std::string>& uris);
    // Opens and logs in to one token, `position` (1-based) picking its PIN. The URI "tpm"
    // opens the TPM (tpm()).
    CeremonyToken open_token(const std::string& uri, std::size_t position);
    // Records the failure of the command, so an interrupted ceremony is visible in the transcript.
    void record_failure(const std::string& what) noexcept;

    // --module, else $TRUSTKEY_PKCS11_MODULE; Error(invalid_argument) when neither is set.
    std::filesystem::path module() const;
    // --tpm, else $TRUSTKEY_TPM_TCTI, else device:/dev/tpmrm0; and --tpm-state.
    TpmLocation tpm() const;

private:
    GlobalOptions m_options;
    std::string m_command;
    std::unique_ptr<Transcript> m_transcript;
};

} // namespace trustkey::ceremony
