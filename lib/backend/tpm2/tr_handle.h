// Owner of an ESYS_TR. A transient object the daemon loaded is flushed from the TPM
// when its owner goes; a persistent object is only closed (its ESYS_TR released),
// so dropping the owner never deletes a persistent key.
#pragma once

#include <utility>

#include <tss2/tss2_esys.h>

namespace trustkey::backend::tpm2 {

class TrHandle {
public:
    enum class Kind { transient, persistent };

    TrHandle() noexcept = default;
    TrHandle(ESYS_CONTEXT* ctx, ESYS_TR tr, Kind kind) noexcept : m_ctx(ctx), m_tr(tr), m_kind(kind) {}
    TrHandle(const TrHandle&) = delete;
    TrHandle& operator=(const TrHandle&) = delete;
    TrHandle(TrHandle&& o) noexcept
        : m_ctx(o.m_ctx), m_tr(std::exchange(o.m_tr, ESYS_TR_NONE)), m_kind(o.m_kind) {}
    TrHandle& operator=(TrHandle&& o) noexcept {
        if (this != &o) {
            reset();
            m_ctx = o.m_ctx;
            m_tr = std::exchange(o.m_tr, ESYS_TR_NONE);
            m_kind = o.m_kind;
        }
        return *this;
    }
    ~TrHandle() { reset(); }

    ESYS_TR get() const noexcept { return m_tr; }
    explicit operator bool() const noexcept { return m_tr != ESYS_TR_NONE; }
    ESYS_TR release() noexcept { return std::exchange(m_tr, ESYS_TR_NONE); }
    void reset() noexcept {
        if (m_tr == ESYS_TR_NONE || m_ctx == nullptr) return;
        ESYS_TR tr = std::exchange(m_tr, ESYS_TR_NONE);
        if (m_kind == Kind::transient)
            Esys_FlushContext(m_ctx, tr);
        else
            Esys_TR_Close(m_ctx, &tr);
    }

private:
    ESYS_CONTEXT* m_ctx = nullptr;
    ESYS_TR m_tr = ESYS_TR_NONE;
    Kind m_kind = Kind::transient;
};

} // namespace trustkey::backend::tpm2
