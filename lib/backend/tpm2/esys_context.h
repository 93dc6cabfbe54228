// One connection to a TPM: the TCTI chosen by its standard string
// ("device:/dev/tpmrm0", "tabrmd", "swtpm:host=…,port=…") and the ESYS context on it.
// An ESYS context is used by one thread at a time.
#pragma once

#include <memory>
#include <string>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tcti.h>

namespace trustkey::backend::tpm2 {

class EsysContext {
public:
    // Loads the TCTI and initializes ESYS. Throws token_absent when the TCTI cannot
    // be opened, with the TCTI string as subject.
    static std::unique_ptr<EsysContext> open(const std::string& tcti);
    EsysContext(const EsysContext&) = delete;
    EsysContext& operator=(const EsysContext&) = delete;
    ~EsysContext();

    ESYS_CONTEXT* get() const noexcept { return m_esys; }

private:
    EsysContext() = default;
    TSS2_TCTI_CONTEXT* m_tcti = nullptr;
    ESYS_CONTEXT* m_esys = nullptr;
};

} // namespace trustkey::backend::tpm2
