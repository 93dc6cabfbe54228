#include "lib/backend/tpm2/esys_context.h"

#include <tss2/tss2_tctildr.h>

#include "lib/backend/tpm2/tss_error.h"

namespace trustkey::backend::tpm2 {

std::unique_ptr<EsysContext> EsysContext::open(const std::string& tcti) {
    std::unique_ptr<EsysContext> ctx(new EsysContext());
    TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.c_str(), &ctx->m_tcti);
    if (rc != TSS2_RC_SUCCESS) {
        Error e = tss_error("Tss2_TctiLdr_Initialize", rc, tcti);
        throw Error(Errc::token_absent, "cannot open the TPM: " + e.message(), rc, e.call(), tcti)
            .with_domain(ErrorDomain::tpm);
    }
    rc = Esys_Initialize(&ctx->m_esys, ctx->m_tcti, nullptr);
    if (rc != TSS2_RC_SUCCESS) {
        Error e = tss_error("Esys_Initialize", rc, tcti);
        throw Error(Errc::token_absent, "cannot open the TPM: " + e.message(), rc, e.call(), tcti)
            .with_domain(ErrorDomain::tpm);
    }
    return ctx;
}

EsysContext::~EsysContext() {
    if (m_esys != nullptr) Esys_Finalize(&m_esys);
    if (m_tcti != nullptr) Tss2_TctiLdr_Finalize(&m_tcti);
}

} // namespace trustkey::backend::tpm2
