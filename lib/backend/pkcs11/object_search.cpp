#include "lib/backend/pkcs11/object_search.h"

#include "lib/backend/pkcs11/ck_error.h"

namespace trustkey::backend::pkcs11 {

ObjectSearch::ObjectSearch(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_ATTRIBUTE* templ, CK_ULONG count)
    : m_fn(fn), m_session(session) {
    check_rv("C_FindObjectsInit", m_fn->C_FindObjectsInit(m_session, templ, count));
}

ObjectSearch::~ObjectSearch() { m_fn->C_FindObjectsFinal(m_session); }

std::vector<CK_OBJECT_HANDLE> ObjectSearch::all(std::size_t limit) {
    std::vector<CK_OBJECT_HANDLE> out;
    CK_OBJECT_HANDLE batch[64];
    while (out.size() < limit) {
        CK_ULONG n = 0;
        check_rv("C_FindObjects", m_fn->C_FindObjects(m_session, batch, 64, &n));
        if (n == 0) break;
        out.insert(out.end(), batch, batch + n);
    }
    return out;
}

std::vector<CK_OBJECT_HANDLE> find_objects(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                                           std::vector<CK_ATTRIBUTE> templ) {
    ObjectSearch search(fn, session, templ.data(), static_cast<CK_ULONG>(templ.size()));
    return search.all();
}

} // namespace trustkey::backend::pkcs11
