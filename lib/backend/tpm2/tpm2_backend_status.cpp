// Tpm2Backend's status (manufacturer, firmware, lockout, keys waiting for their value) and
// the TPM's identity (its storage primary's Name).
#include <tss2/tss2_esys.h>

#include "lib/backend/tpm2/esys_ptr.h"
#include "lib/backend/tpm2/tpm2_backend.h"
#include "lib/backend/tpm2/tpm2_backend_run.h"
#include "lib/backend/tpm2/tss_error.h"
#include "lib/core/encoding.h"

namespace trustkey::backend::tpm2 {

BackendStatus Tpm2Backend::status() {
    BackendStatus st;
    st.name = m_config.name;
    st.kind = "tpm2";
    st.location = m_config.tcti;
    st.token_label = "TPM 2.0";
    st.sessions = 1;
    try {
        const std::vector<KeyPtr> keys = known_keys();
        st.key_count = keys.size();
        st.keys_awaiting_auth = keys_awaiting_auth(keys);
    } catch (const Error& e) {
        st.error = e.what();
    }
    try {
        run("backend '" + m_config.name + "'", [&](Connection& c) {
            EsysPtr<TPMS_CAPABILITY_DATA> data;
            TPMI_YES_NO more = TPM2_NO;
            check_rc("Esys_GetCapability",
                     Esys_GetCapability(c.ctx->get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                        TPM2_PT_MANUFACTURER, 8, &more, out_ptr(data)));
            std::string vendor;
            const auto& props = data->data.tpmProperties;
            auto text = [](UINT32 v) {
                std::string s;
                for (int shift = 24; shift >= 0; shift -= 8) {
                    const char ch = static_cast<char>((v >> shift) & 0xff);
                    if (ch != '\0' && ch != ' ') s.push_back(ch);
                }
                return s;
            };
            for (UINT32 i = 0; i < props.count; ++i) {
                const auto& p = props.tpmProperty[i];
                if (p.property == TPM2_PT_MANUFACTURER) st.manufacturer = text(p.value);
                if (p.property >= TPM2_PT_VENDOR_STRING_1 && p.property <= TPM2_PT_VENDOR_STRING_4)
                    vendor += text(p.value);
                if (p.property == TPM2_PT_FIRMWARE_VERSION_1) st.serial = "firmware " + std::to_string(p.value >> 16) +
                                                                          "." + std::to_string(p.value & 0xffff);
            }
            st.model = vendor;
            EsysPtr<TPMS_CAPABILITY_DATA> perm;
            check_rc("Esys_GetCapability",
                     Esys_GetCapability(c.ctx->get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                        TPM2_PT_PERMANENT, 1, &more, out_ptr(perm)));
            if (perm->data.tpmProperties.count == 1 &&
                perm->data.tpmProperties.tpmProperty[0].property == TPM2_PT_PERMANENT)
                st.pin_locked = (perm->data.tpmProperties.tpmProperty[0].value & TPMA_PERMANENT_INLOCKOUT) != 0;
            return 0;
        });
        st.present = true;
        st.logged_in = true;
    } catch (const Error& e) {
        st.error = e.message();
    }
    return st;
}

std::string Tpm2Backend::storage_primary_name() {
    return run("backend '" + m_config.name + "'", [&](Connection& c) {
        EsysPtr<TPM2B_NAME> name;
        check_rc("Esys_TR_GetName", Esys_TR_GetName(c.ctx->get(), c.primary.get(), out_ptr(name)), "storage primary");
        constexpr std::size_t kAlgPrefix = 2;  // the Name starts with its hash algorithm's id
        if (name->size <= kAlgPrefix)
            throw Error(Errc::token_error, "the storage primary has no Name", 0, "Esys_TR_GetName", "storage primary");
        return to_hex(std::span<const std::uint8_t>(name->name + kAlgPrefix, name->size - kAlgPrefix));
    });
}

std::string storage_primary_name(Backend& backend) {
    auto* tpm = dynamic_cast<Tpm2Backend*>(&backend);
    if (tpm == nullptr) throw Error(Errc::invalid_argument, "backend '" + backend.name() + "' is not a TPM");
    return tpm->storage_primary_name();
}

} // namespace trustkey::backend::tpm2
