#include "lib/backend/pkcs11/module.h"

#include <dlfcn.h>

#include <map>
#include <mutex>

#include "lib/backend/pkcs11/ck_error.h"

namespace trustkey::backend::pkcs11 {

namespace {

// The one process-wide owner of PKCS#11 state: loaded modules by path.
struct ModuleRegistry {
    std::mutex mutex;
    std::map<std::filesystem::path, std::weak_ptr<Module>> modules;
};

ModuleRegistry& registry() {
    static ModuleRegistry r;
    return r;
}

struct DlCloser {
    void operator()(void* h) const noexcept { dlclose(h); }
};

} // namespace

std::shared_ptr<Module> Module::open(const std::filesystem::path& path) {
    auto& reg = registry();
    std::lock_guard lock(reg.mutex);
    std::filesystem::path key = path.lexically_normal();
    if (auto existing = reg.modules[key].lock()) return existing;

    // RTLD_NODELETE: the code stays mapped after the last dlclose, so threads or
    // handlers a module leaves behind never jump into unmapped memory. C_Finalize
    // still resets it, and a later C_Initialize reads its configuration again.
    std::unique_ptr<void, DlCloser> handle(dlopen(key.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE));
    if (!handle) {
        const char* err = dlerror();
        throw Error(Errc::config, std::string("cannot load PKCS#11 module: ") + (err ? err : "unknown error"), 0,
                    "dlopen", key.string());
    }
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle.get(), "C_GetFunctionList"));
    if (get_list == nullptr)
        throw Error(Errc::config, "not a PKCS#11 module (no C_GetFunctionList)", 0, "dlsym", key.string());
    CK_FUNCTION_LIST* fn = nullptr;
    check_rv("C_GetFunctionList", get_list(&fn), key.string());
    if (fn == nullptr) throw Error(Errc::config, "module returned no function list", 0, "C_GetFunctionList", key.string());

    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = fn->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) throw ck_error("C_Initialize", rv, key.string());

    std::shared_ptr<Module> module(new Module(key, handle.release(), fn));
    reg.modules[key] = module;
    return module;
}

Module::~Module() {
    auto& reg = registry();
    std::lock_guard lock(reg.mutex);
    // When another instance for the same path was opened while this one was being
    // released, the module is still initialized for it: leave finalizing to that one.
    auto it = reg.modules.find(m_path);
    bool replaced = it != reg.modules.end() && !it->second.expired();
    if (!replaced) {
        m_fn->C_Finalize(nullptr);
        if (it != reg.modules.end()) reg.modules.erase(it);
    }
    dlclose(m_handle);
}

} // namespace trustkey::backend::pkcs11
