// Move-only owner of an integer handle (PKCS#11 session, ESYS_TR …) with a
// release function called once, from a noexcept destructor.
#pragma once

#include <functional>
#include <utility>

namespace trustkey {

template <typename H, H Invalid>
class UniqueHandle {
public:
    using Closer = std::function<void(H)>;
    UniqueHandle() noexcept = default;
    UniqueHandle(H h, Closer closer) noexcept : m_h(h), m_closer(std::move(closer)) {}
    UniqueHandle(const UniqueHandle&) = delete;
    UniqueHandle& operator=(const UniqueHandle&) = delete;
    UniqueHandle(UniqueHandle&& o) noexcept : m_h(std::exchange(o.m_h, Invalid)), m_closer(std::move(o.m_closer)) {}
    UniqueHandle& operator=(UniqueHandle&& o) noexcept {
        if (this != &o) {
            reset();
            m_h = std::exchange(o.m_h, Invalid);
            m_closer = std::move(o.m_closer);
        }
        return *this;
    }
    ~UniqueHandle() { reset(); }

    H get() const noexcept { return m_h; }
    explicit operator bool() const noexcept { return m_h != Invalid; }
    H release() noexcept { return std::exchange(m_h, Invalid); }
    void reset() noexcept {
        if (m_h != Invalid && m_closer) {
            try {
                m_closer(m_h);
            } catch (...) {
            }
        }
        m_h = Invalid;
    }

private:
    H m_h = Invalid;
    Closer m_closer;
};

} // namespace trustkey
