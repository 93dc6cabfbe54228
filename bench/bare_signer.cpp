#include "bench/bare_signer.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "bench/socket_peer.h"
#include "bench/pkcs11_module.h"
#include "lib/core/error.h"
#include "lib/core/unique_fd.h"

namespace trustkey::bench {

namespace {

// The child: opens the module itself (after the fork) and signs until the parent hangs up.
void serve(int fd, const BareSigner& signer) {
    Pkcs11Module module(signer.module);
    const CK_SLOT_ID slot = module.find_slot(signer.token_label);
    SessionHandle session = module.open_session(slot);
    module.login(session.get(), signer.pin);
    const CK_OBJECT_HANDLE key = module.find_object(session.get(), CKO_PRIVATE_KEY, signer.key_label);
    std::array<std::uint8_t, 1> ready{1};
    if (!write_exact(fd, ready.data(), ready.size())) return;
    std::array<std::uint8_t, 32> digest{};
    std::array<std::uint8_t, 64> sig{};
    while (read_exact(fd, digest.data(), digest.size())) {
        module.sign_ecdsa(session.get(), key, digest, sig);
        if (!write_exact(fd, sig.data(), sig.size())) break;
    }
}

} // namespace

double bare_signer_rate(const BareSigner& signer, double seconds) {
    SocketPeer peer([&signer](int fd) { serve(fd, signer); });
    std::array<std::uint8_t, 1> ready{};
    if (!read_exact(peer.fd(), ready.data(), ready.size())) {
        const int status = peer.finish();
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
            if (!write_exact(peer.fd(), digest.data(), digest.size()) ||
                !read_exact(peer.fd(), sig.data(), sig.size())) {
                broken = true;
                break;
            }
            ++signed_count;
        }
        now = std::chrono::steady_clock::now();
    }
    peer.finish();  // the child sees EOF and exits
    if (broken) throw Error(Errc::io, "the bare signer stopped answering");
    return static_cast<double>(signed_count) / std::chrono::duration<double>(now - start).count();
}

} // namespace trustkey::bench
