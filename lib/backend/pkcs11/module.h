// A loaded and initialized PKCS#11 module. One Module per library path in the
// process, shared by every backend using it; the last owner finalizes and
// unloads it, so the module can later be loaded again with new settings.
#pragma once

#include <filesystem>
#include <memory>

#include <p11-kit/pkcs11.h>

namespace trustkey::backend::pkcs11 {

class Module {
public:
    // Loads `path` (or shares the instance already loaded); throws config or token_error.
    static std::shared_ptr<Module> open(const std::filesystem::path& path);

    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    ~Module();

    CK_FUNCTION_LIST* fn() const noexcept { return m_fn; }
    const std::filesystem::path& path() const noexcept { return m_path; }

private:
    Module(std::filesystem::path path, void* handle, CK_FUNCTION_LIST* fn)
        : m_path(std::move(path)), m_handle(handle), m_fn(fn) {}

    std::filesystem::path m_path;
    void* m_handle;
    CK_FUNCTION_LIST* m_fn;
};

} // namespace trustkey::backend::pkcs11
