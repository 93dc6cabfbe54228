// tpm_bench: signatures per second with a TPM key, in-process through raw ESYS and
// through trustkeyd's socket (a `[[tpm]]` backend), on the same swtpm in one run, for
// ECDSA P-256 and RSA-PSS 2048. Prints figures and the socket/raw ratios; not a test.
//
// The measurements alternate in rounds (raw, trustkeyd with one client, with two), and
// the ratios are taken within each round, so drift over the run (other load, the
// loopback filling with TIME-WAIT sockets: the swtpm TCTI opens a TCP connection per
// command) weighs on both sides alike. The summary is the median over the rounds.
//
// Both sides keep their keys under one persistent storage primary, so trustkeyd's loaded
// keys and the raw loop's key fit in swtpm's three object slots at once.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <tss2/tss2_esys.h>

#include "bench/child_process.h"
#include "bench/socket_round_trip.h"
#include "bench/temp_dir.h"
#include "lib/keys/public_key.h"
#include "lib/backend/tpm2/esys_context.h"
#include "lib/backend/tpm2/esys_ptr.h"
#include "lib/backend/tpm2/key_templates.h"
#include "lib/backend/tpm2/tr_handle.h"
#include "lib/backend/tpm2/tss_error.h"
#include "lib/core/error.h"
#include "trustkey/proto/client.h"

namespace trustkey::bench {
namespace {

using backend::KeyType;
using namespace backend::tpm2;
namespace pb = proto::pb;
using Clock = std::chrono::steady_clock;

struct Options {
    double seconds = 1.0;
    int rounds = 5;
    int block = 20;
    std::string trustkeyd;
};

constexpr std::uint32_t kPrimaryHandle = 0x81000001;

// Two adjacent free loopback ports (server, control), as the swtpm TCTI expects.
std::uint16_t free_port_pair() {
    for (int attempt = 0; attempt < 64; ++attempt) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        ::close(fd);
        const std::uint16_t port = ntohs(a.sin_port);
        if (port == 0 || port == 65535) continue;
        const int fd2 = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in b = a;
        b.sin_port = htons(static_cast<std::uint16_t>(port + 1));
        const bool free = ::bind(fd2, reinterpret_cast<sockaddr*>(&b), sizeof b) == 0;
        ::close(fd2);
        if (free) return port;
    }
    throw Error(Errc::io, "no two adjacent free loopback ports");
}

template <typename Ready>
void wait_ready(ChildProcess& p, Ready ready, const std::string& what) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (!ready()) {
        if (p.wait_exit(std::chrono::milliseconds(20)))
            throw Error(Errc::io, what + " exited during start-up: " + p.log_tail());
        if (Clock::now() > deadline) throw Error(Errc::io, what + " not ready in time: " + p.log_tail());
    }
}

Bytes digest_of(std::uint64_t i) { return sha256(as_bytes("tpm bench " + std::to_string(i))); }

struct Rate {
    std::uint64_t signatures = 0;
    double seconds = 0;
    double per_second() const { return seconds > 0 ? static_cast<double>(signatures) / seconds : 0; }
};

// Runs `sign(i)` until `seconds` pass.
template <typename Sign>
Rate timed(double seconds, Sign&& sign) {
    Rate r;
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) sign(r.signatures++);
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return r;
}

// Raw ESYS in-process: one key created and loaded under the persistent storage primary
// trustkeyd made, then Esys_Sign in a loop. The key is flushed when this goes.
class RawSigner {
public:
    RawSigner(const std::string& tcti, KeyType type) : m_ctx(EsysContext::open(tcti)), m_type(type) {
        ESYS_CONTEXT* c = m_ctx->get();
        ESYS_TR primary_tr = ESYS_TR_NONE;
        check_rc("Esys_TR_FromTPMPublic", Esys_TR_FromTPMPublic(c, kPrimaryHandle, ESYS_TR_NONE, ESYS_TR_NONE,
                                                                ESYS_TR_NONE, &primary_tr));
        TrHandle primary(c, primary_tr, TrHandle::Kind::persistent);
        const TPM2B_SENSITIVE_CREATE sensitive{};
        const TPM2B_DATA outside{};
        const TPML_PCR_SELECTION pcrs{};
        const TPM2B_PUBLIC templ = signing_key_template(type);
        EsysPtr<TPM2B_PUBLIC> pub;
        EsysPtr<TPM2B_PRIVATE> priv;
        check_rc("Esys_Create", Esys_Create(c, primary.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                                            &templ, &outside, &pcrs, out_ptr(priv), out_ptr(pub), nullptr, nullptr,
                                            nullptr));
        ESYS_TR key_tr = ESYS_TR_NONE;
        check_rc("Esys_Load", Esys_Load(c, primary.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv.get(),
                                        pub.get(), &key_tr));
        m_key = TrHandle(c, key_tr, TrHandle::Kind::transient);
        m_scheme = signature_scheme(type);
        m_ticket.tag = TPM2_ST_HASHCHECK;
        m_ticket.hierarchy = TPM2_RH_NULL;
        // One signature outside the clock, checked.
        if (!backend::verify_signature(type, spki_of_public(pub->publicArea), backend::HashAlg::sha256, digest_of(0),
                                       sign(0)))
            throw Error(Errc::internal, "raw ESYS signature does not verify");
    }

    Bytes sign(std::uint64_t i) {
        const Bytes d = digest_of(i);
        TPM2B_DIGEST digest{};
        digest.size = static_cast<UINT16>(d.size());
        std::copy(d.begin(), d.end(), digest.buffer);
        EsysPtr<TPMT_SIGNATURE> sig;
        check_rc("Esys_Sign", Esys_Sign(m_ctx->get(), m_key.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                        &digest, &m_scheme, &m_ticket, out_ptr(sig)));
        return tuf_signature(*sig, m_type);
    }

    Rate measure(double seconds) {
        return timed(seconds, [&](std::uint64_t i) { sign(i); });
    }

private:
    std::unique_ptr<EsysContext> m_ctx;  // declared first: the key handle is flushed before it closes
    KeyType m_type;
    TrHandle m_key;
    TPMT_SIG_SCHEME m_scheme{};
    TPMT_TK_HASHCHECK m_ticket{};
};

// Generates the key through trustkeyd and checks one signature; returns its id.
std::string daemon_key(const std::string& socket, KeyType type) {
    auto client = proto::Client::connect(socket);
    const std::string name = std::string("bench-") + std::string(backend::key_type_name(type));
    const pb::KeyInfo k =
        client.generate_key(name, type == KeyType::ecdsa_p256 ? pb::KEY_TYPE_ECDSA_P256 : pb::KEY_TYPE_RSA_2048, "tpm");
    const Bytes spki(k.public_key().begin(), k.public_key().end());
    const Bytes d0 = digest_of(0);
    const auto first = client.sign(k.id(), pb::HASH_SHA256, d0);
    const Bytes sig0(first.signature().begin(), first.signature().end());
    if (!backend::verify_signature(type, spki, backend::HashAlg::sha256, d0, sig0))
        throw Error(Errc::internal, "trustkeyd's signature does not verify");
    return k.id();
}

// One client against the raw loop, alternating in blocks of `block` signatures for
// `seconds`: the machine's drift (it moves by tenths within seconds on a VM) falls on all
// sides alike. Each block is signed three ways: the raw loop, one Sign request per
// signature, and one SignBatch request for the block (what the trust verbs send); the
// raw loop goes first, and the two trustkeyd ways swap places from block to block.
struct Latency {
    double sum_us = 0;
    std::uint64_t n = 0;
    void add(Clock::time_point from, Clock::time_point to) {
        sum_us += std::chrono::duration<double, std::micro>(to - from).count();
        ++n;
    }
    double mean() const { return n > 0 ? sum_us / static_cast<double>(n) : 0; }
};
struct Alternating {
    Rate raw, single, batch;
    std::uint64_t turns = 0;
    // One signature at a time: the first of a block, right after the other side ran, and
    // the rest of the block. Shows what switching between the two costs each.
    Latency raw_first, raw_rest, single_first, single_rest;
};
Alternating alternating(RawSigner& raw, const std::string& socket, const std::string& key, double seconds,
                        int block) {
    auto client = proto::Client::connect(socket);
    Alternating a;
    std::uint64_t i = 0;
    auto add = [block](Rate& rate, Clock::time_point from, Clock::time_point to) {
        rate.signatures += static_cast<std::uint64_t>(block);
        rate.seconds += std::chrono::duration<double>(to - from).count();
    };
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        std::vector<std::vector<std::uint8_t>> digests;
        for (int k = 0; k < block; ++k) digests.push_back(digest_of(i + static_cast<std::uint64_t>(2 * block + k)));
        const auto t0 = Clock::now();
        for (int k = 0; k < block; ++k) {
            const auto from = Clock::now();
            raw.sign(i++);
            (k == 0 ? a.raw_first : a.raw_rest).add(from, Clock::now());
        }
        const auto t1 = Clock::now();
        // The way that comes right after the raw loop finds trustkeyd's caches cold (its first
        // request of the block is the slowest): the two ways take turns at that place.
        const auto singles = [&](bool after_raw) {
            const auto from = Clock::now();
            for (int k = 0; k < block; ++k) {
                const auto one = Clock::now();
                client.sign(key, pb::HASH_SHA256, digest_of(i++));
                if (k > 0)
                    a.single_rest.add(one, Clock::now());
                else if (after_raw)
                    a.single_first.add(one, Clock::now());
            }
            add(a.single, from, Clock::now());
        };
        const auto batch = [&] {
            const auto from = Clock::now();
            const auto reply = client.sign_batch(key, pb::HASH_SHA256, digests);
            add(a.batch, from, Clock::now());
            if (reply.signatures_size() != block) throw Error(Errc::internal, "a batch came back short");
            i += static_cast<std::uint64_t>(block);
        };
        if (a.turns++ % 2 == 0) {
            singles(true);
            batch();
        } else {
            batch();
            singles(false);
        }
        add(a.raw, t0, t1);
    }
    return a;
}

// `clients` connections signing at once (each waits for its reply), for `seconds`.
Rate through_trustkeyd(const std::string& socket, const std::string& key, std::size_t clients, double seconds) {
    std::vector<Rate> rates(clients);
    std::vector<std::thread> threads;
    std::atomic<bool> failed{false};
    for (std::size_t t = 0; t < clients; ++t) {
        threads.emplace_back([&, t] {
            try {
                auto client = proto::Client::connect(socket);
                rates[t] = timed(seconds, [&](std::uint64_t i) {
                    client.sign(key, pb::HASH_SHA256, digest_of(i * clients + t));
                });
            } catch (const std::exception& e) {
                std::fprintf(stderr, "tpm_bench: client %zu: %s\n", t, e.what());
                failed = true;
            }
        });
    }
    for (auto& th : threads) th.join();
    if (failed) throw Error(Errc::internal, "a benchmark client failed");
    Rate total;
    for (const auto& r : rates) {
        total.signatures += r.signatures;
        total.seconds = std::max(total.seconds, r.seconds);
    }
    return total;
}

int run(const Options& o) {
    TempDir dir("trustkey-tpm-bench-");
    const std::uint16_t port = free_port_pair();
    const std::string tcti = fmt::format("swtpm:host=127.0.0.1,port={}", port);
    std::filesystem::create_directories(dir.path() / "swtpm");
    ChildProcess swtpm({"swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + (dir.path() / "swtpm").string(), "--server",
                        fmt::format("type=tcp,port={},bindaddr=127.0.0.1", port), "--ctrl",
                        fmt::format("type=tcp,port={},bindaddr=127.0.0.1", port + 1), "--flags",
                        "not-need-init,startup-clear"},
                       {}, dir.path() / "swtpm.log");
    wait_ready(
        swtpm,
        [port] {
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            ::close(fd);
            return ok;
        },
        "swtpm");
    std::printf("tpm_bench: swtpm at %s, %d rounds of %.1f s per measurement\n\n", tcti.c_str(), o.rounds,
                o.seconds);

    const std::string socket = (dir.path() / "agent.sock").string();
    const std::filesystem::path config = dir.path() / "trustkeyd.toml";
    {
        std::ofstream out(config);
        out << "log_level = \"warn\"\n\n[[tpm]]\nname = \"tpm\"\ntcti = \"" << tcti << "\"\nparent = " << kPrimaryHandle
            << "\nstate_dir = \"" << (dir.path() / "tpm-keys").string() << "\"\nloaded_keys = 2\n";
        if (!out.flush()) throw Error(Errc::io, "cannot write " + config.string());
    }
    const std::vector<std::string> env{"HOME=" + dir.path().string(),
                                       "XDG_CONFIG_HOME=" + (dir.path() / "config").string(),
                                       "XDG_DATA_HOME=" + (dir.path() / "data").string(),
                                       "XDG_RUNTIME_DIR=" + dir.path().string()};
    ChildProcess trustkeyd({o.trustkeyd, "--foreground", "--socket", socket, "--config", config.string()}, env,
                           dir.path() / "trustkeyd.log");
    wait_ready(
        trustkeyd,
        [&socket] {
            try {
                proto::Client::connect(socket, std::chrono::seconds(5));
                return true;
            } catch (const proto::ClientError& e) {
                if (e.kind() == proto::ClientError::Kind::not_running) return false;
                throw;
            }
        },
        "trustkeyd");

    struct Round {
        Rate raw_alt, one, batch;  // alternating blocks
        Rate two, raw;             // back to back
        double raw_first_us = 0, raw_rest_us = 0, one_first_us = 0, one_rest_us = 0;
    };
    const KeyType types[] = {KeyType::ecdsa_p256, KeyType::rsa_2048};
    const char* names[] = {"ECDSA P-256", "RSA-PSS 2048"};
    std::vector<Round> rounds[2];
    for (int i = 0; i < 2; ++i) {
        // trustkeyd makes (and persists) the storage primary and keeps its key loaded;
        // the raw loop's key goes under the same primary.
        const std::string key = daemon_key(socket, types[i]);
        RawSigner raw(tcti, types[i]);
        for (int r = 0; r < o.rounds; ++r) {
            Round round;
            // One client: interleaved with the raw loop block by block. Two clients: a
            // measurement of their own, then the raw loop alone for its ratio.
            const Alternating a = alternating(raw, socket, key, o.seconds, o.block);
            round.raw_alt = a.raw;
            round.one = a.single;
            round.batch = a.batch;
            round.raw_first_us = a.raw_first.mean();
            round.raw_rest_us = a.raw_rest.mean();
            round.one_first_us = a.single_first.mean();
            round.one_rest_us = a.single_rest.mean();
            round.two = through_trustkeyd(socket, key, 2, o.seconds);
            round.raw = raw.measure(o.seconds);
            rounds[i].push_back(round);
        }
    }

    std::printf("%-12s %5s | %-51s | %-31s\n", "", "", "1 client, alternating blocks", "2 clients, then raw alone");
    std::printf("%-12s %5s | %9s %9s %9s %10s %10s | %9s %9s %11s\n", "key", "round", "raw sig/s", "tkd sig/s",
                "batch/s", "tkd / raw", "batch/raw", "raw sig/s", "tkd sig/s", "tkd / raw");
    auto ratio = [](const Rate& num, const Rate& den) {
        return den.per_second() > 0 ? num.per_second() / den.per_second() : 0.0;
    };
    for (int i = 0; i < 2; ++i) {
        for (std::size_t r = 0; r < rounds[i].size(); ++r) {
            const Round& x = rounds[i][r];
            std::printf("%-12s %5zu | %9.0f %9.0f %9.0f %10.3f %10.3f | %9.0f %9.0f %11.3f\n", names[i], r + 1,
                        x.raw_alt.per_second(), x.one.per_second(), x.batch.per_second(), ratio(x.one, x.raw_alt),
                        ratio(x.batch, x.raw_alt), x.raw.per_second(), x.two.per_second(), ratio(x.two, x.raw));
        }
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        const std::size_t n = v.size();
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    };
    // The floor under any one-request-at-a-time agent: one Unix-socket round trip more per
    // signature than the raw loop. It bounds what one client can reach at all.
    const double floor_us = socket_round_trip_us(0.5);
    std::printf("\nUnix socket round trip between two processes here: %.1f us\n", floor_us);
    for (int i = 0; i < 2; ++i) {
        std::vector<double> raw_us;
        for (const Round& x : rounds[i])
            if (x.raw_alt.per_second() > 0) raw_us.push_back(1e6 / x.raw_alt.per_second());
        if (raw_us.empty()) continue;
        const double sig_us = median(raw_us);
        std::printf("%-12s raw signature %.0f us: one client through any socket reaches at most %.3f of raw\n",
                    names[i], sig_us, sig_us / (sig_us + floor_us));
    }

    // What switching costs: the first signature of a block comes right after the other side
    // ran, with the caches it left behind.
    std::printf("\nOne signature at a time, first of a block vs the rest (us, median of the rounds):\n");
    for (int i = 0; i < 2; ++i) {
        std::vector<double> rf, rr, tf, tr;
        for (const Round& x : rounds[i]) {
            rf.push_back(x.raw_first_us);
            rr.push_back(x.raw_rest_us);
            tf.push_back(x.one_first_us);
            tr.push_back(x.one_rest_us);
        }
        std::printf("%-12s raw ESYS %.0f first / %.0f rest; trustkeyd after the raw loop %.0f first / %.0f rest\n",
                    names[i], median(rf), median(rr), median(tf), median(tr));
    }

    std::printf("\nTargets (median of the rounds' ratios; lowest and highest round in brackets)\n");
    for (int i = 0; i < 2; ++i) {
        for (int way = 0; way < 3; ++way) {
            std::vector<double> ratios;
            for (const Round& x : rounds[i])
                ratios.push_back(way == 0 ? ratio(x.one, x.raw_alt)
                                          : way == 1 ? ratio(x.batch, x.raw_alt) : ratio(x.two, x.raw));
            const double m = median(ratios);
            const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
            const char* how = way == 0 ? "1 client" : way == 1 ? "1 client batch" : "2 clients";
            const std::string what = fmt::format("trustkeyd {} / raw ESYS, {}", how, names[i]);
            std::printf("%-52s %6.3f  [%5.3f, %5.3f]  target >= 0.9  %s\n", what.c_str(), m, *lo, *hi,
                        m >= 0.9 ? "PASS" : "MISS");
        }
    }
    return 0;
}

} // namespace
} // namespace trustkey::bench

int main(int argc, char** argv) {
    trustkey::bench::Options o;
#ifdef TRUSTKEY_BENCH_TRUSTKEYD
    o.trustkeyd = TRUSTKEY_BENCH_TRUSTKEYD;
#endif
    CLI::App app{"tpm_bench: TPM signatures per second, raw ESYS vs through trustkeyd, on one swtpm"};
    app.add_option("--seconds", o.seconds, "Length of each measurement")->capture_default_str()->check(CLI::Range(0.1, 10.0));
    app.add_option("--block", o.block, "Signatures per block when one client alternates with the raw loop")
        ->capture_default_str()
        ->check(CLI::Range(1, 10000));
    app.add_option("--rounds", o.rounds, "Rounds of raw / 1 client / 2 clients")->capture_default_str()->check(CLI::Range(1, 50));
    app.add_option("--trustkeyd", o.trustkeyd, "trustkeyd binary")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    ::setenv("TSS2_LOG", "all+none", 0);
    try {
        return trustkey::bench::run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tpm_bench: %s\n", e.what());
        return 1;
    }
}
