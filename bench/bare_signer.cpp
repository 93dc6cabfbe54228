#include "bench/bare_signer.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "bench/exact_io.h"
#include "bench/pkcs11_module.h"
#include "lib/core/error.h"
#include "lib/core/unique_fd.h"

namespace trustkey::bench {

namespace {

// The child: opens the module itself (after the fork) and signs until the parent hangs up.
[[noreturn]] void serve(int fd, const BareSigner& signer) {
    try {
        Pkcs11Module module(signer.module);
        const CK_SLOT_ID slot = module.find_slot(signer.token_label);
        SessionHandle session = module.open_session(slot);
        module.login(session.get(), signer.pin);
        const CK_OBJECT_HANDLE key = module.find_object(session.get(), CKO_PRIVATE_KEY, signer.key_label);
        std::array<std::uint8_t, 1> ready{1};
        if (!write_exact(fd, ready.data(), ready.size())) ::_exit(1);
        std::array<std::uint8_t, 32> digest{};
        std::array<std::uint8_t, 64> sig{};
        while (read_exact(fd, digest.data(), digest.size())) {
            module.sign_ecdsa(session.get(), key, digest, sig);
            if (!write_exact(fd, sig.data(), sig.size())) break;
        }
    } catch (...) {
        ::_exit(2);
    }
    ::_exit(0);
}

} // namespace

double bare_signer_rate(const BareSigner& signer, double seconds) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair", errno);
    UniqueFd parent(sv[0]), child_end(sv[1]);
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork", errno);
    if (pid == 0) {
        parent.reset();
        serve(child_end.get(), signer);
    }
    child_end.reset();
    const auto reap = [pid] {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return status;
    };
    std::array<std::uint8_t, 1> ready{};
    if (!read_exact(parent.get(), ready.data(), ready.size())) {
        parent.reset();
        const int status = reap();
        throw Error(Errc::token_error, "the bare signer could not start (exit status " +
                                           std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
    }
    std::array<std::uint8_t, 32> digest{};
    digest.fill(0x5a);
    std::array<std::uint8_t, 64> sig{};
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::duration<double>(seconds);
    std::size_t signed_count = 0;
    auto now = start;
    bool broken = false;
    while (now < until && !broken) {
        for (int i = 0; i < 16; ++i) {
            if (!write_exact(parent.get(), digest.data(), digest.size()) ||
                !read_exact(parent.get(), sig.data(), sig.size())) {
                broken = true;
                break;
            }
            ++signed_count;
        }
        now = std::chrono::steady_clock::now();
    }
    parent.reset();  // the child sees EOF and exits
    reap();
    if (broken) throw Error(Errc::io, "the bare signer stopped answering");
    return static_cast<double>(signed_count) / std::chrono::duration<double>(now - start).count();
}

} // namespace trustkey::bench
