// One C_FindObjectsInit … C_FindObjectsFinal run, finalized on every path.
#pragma once

#include <vector>

#include <p11-kit/pkcs11.h>

namespace trustkey::backend::pkcs11 {

class ObjectSearch {
public:
    ObjectSearch(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_ATTRIBUTE* templ, CK_ULONG count);
    ObjectSearch(const ObjectSearch&) = delete;
    ObjectSearch& operator=(const ObjectSearch&) = delete;
    ~ObjectSearch();

    // All matching objects (bounded by `limit`).
    std::vector<CK_OBJECT_HANDLE> all(std::size_t limit = 100000);

private:
    CK_FUNCTION_LIST* m_fn;
    CK_SESSION_HANDLE m_session;
};

// Finds objects matching `templ` in one call.
std::vector<CK_OBJECT_HANDLE> find_objects(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                                           std::vector<CK_ATTRIBUTE> templ);

} // namespace trustkey::backend::pkcs11
