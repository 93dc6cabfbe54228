// Owners for what tpm2-tss allocates: ESYS output buffers (Esys_Free), and a small
// out_ptr that fills an owner from a C out-parameter.
#pragma once

#include <memory>

#include <tss2/tss2_esys.h>

namespace trustkey::backend::tpm2 {

struct EsysFree {
    void operator()(void* p) const noexcept { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysFree>;

// `Esys_Sign(…, out_ptr(sig))`: the owner takes the pointer when the full expression ends.
template <typename T>
class OutPtr {
public:
    explicit OutPtr(EsysPtr<T>& owner) noexcept : m_owner(owner) {}
    OutPtr(const OutPtr&) = delete;
    OutPtr& operator=(const OutPtr&) = delete;
    ~OutPtr() { m_owner.reset(m_raw); }
    operator T**() noexcept { return &m_raw; }

private:
    EsysPtr<T>& m_owner;
    T* m_raw = nullptr;
};

template <typename T>
OutPtr<T> out_ptr(EsysPtr<T>& owner) noexcept {
    return OutPtr<T>(owner);
}

} // namespace trustkey::backend::tpm2
