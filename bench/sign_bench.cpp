// sign_bench: ECDSA P-256 signatures per second on one SoftHSM2 token, reached
// in-process through PKCS#11, through trustkeyd and through p11-kit server; then the
// latency of single requests from 1 to 1,000 concurrent clients of trustkeyd and of
// p11-kit server, with trustkeyd's memory and threads. Prints figures; not a test.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/child_process.h"
#include "bench/client_load.h"
#include "bench/latency.h"
#include "bench/p11kit_server.h"
#include "bench/p256_verifier.h"
#include "bench/pkcs11_module.h"
#include "bench/process_sampler.h"
#include "bench/report.h"
#include "bench/socket_round_trip.h"
#include "bench/bare_signer.h"
#include "bench/temp_dir.h"
#include "bench/throughput.h"
#include "bench/trustkeyd_process.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "trustkey/proto/client.h"

#ifndef TRUSTKEY_BENCH_TRUSTKEYD
#define TRUSTKEY_BENCH_TRUSTKEYD ""
#endif

namespace trustkey::bench {
namespace {

namespace pb = proto::pb;

constexpr const char* kTokenLabel = "trustkey-bench";
constexpr const char* kKeyLabel = "bench-p256";
constexpr const char* kUserPin = "246810";
constexpr const char* kSoPin = "13579111";
constexpr std::uint8_t kKeyId[] = {0x62, 0x65, 0x6e, 0x63, 0x68};
constexpr std::size_t kThreadCounts[] = {1, 2};

// Set by SIGINT/SIGTERM; every loop checks it, then main unwinds and cleans up.
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

struct Options {
    double seconds = 2.0;
    std::string trustkeyd = TRUSTKEY_BENCH_TRUSTKEYD;
    std::string module = "/usr/lib/softhsm/libsofthsm2.so";
    std::string p11kit = "p11-kit";
    std::string p11kit_client = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";
    std::string softhsm2_util = "softhsm2-util";
    std::size_t batch = 256;
    std::size_t window = 32;
    std::vector<std::size_t> clients = {1, 16, 64, 256, 1000};
    std::size_t driver_threads = 2;
    std::size_t p11kit_max_clients = 1000;
    std::size_t sessions = 4;
    std::size_t max_connections = 2000;
    std::string log_level = "warn";
    std::string json;
    std::string latency_data;
};

// The client counts the targets are read at.
constexpr std::size_t kTargetClients = 64;
constexpr std::size_t kManyClients = 1000;

std::span<const std::uint8_t> bytes_of(const std::string& s) { return as_bytes(s); }

Bytes digest_for(std::size_t thread, std::size_t item) {
    return sha256(as_bytes(fmt::format("trustkey bench digest {} {}", thread, item)));
}

std::vector<Bytes> digests_for(std::size_t thread, std::size_t count) {
    std::vector<Bytes> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) out.push_back(digest_for(thread, i));
    return out;
}

void require_valid(const P256Verifier& verifier, std::span<const std::uint8_t> digest,
                   std::span<const std::uint8_t> sig, const std::string& where) {
    if (!verifier.verify(digest, sig))
        throw Error(Errc::internal, where + ": a signature does not verify against the token's public key");
}

void check_stop() {
    if (g_stop) throw Error(Errc::io, "interrupted");
}

// The token, in its own SoftHSM2 configuration inside the temporary directory.
struct Token {
    std::filesystem::path conf;
    std::filesystem::path pin_file;
    std::vector<std::string> env;
};

Token make_token(const Options& o, const std::filesystem::path& dir) {
    Token t;
    std::filesystem::create_directories(dir / "tokens");
    t.conf = dir / "softhsm2.conf";
    std::ofstream(t.conf) << "directories.tokendir = " << (dir / "tokens").string()
                          << "\nobjectstore.backend = file\nlog.level = ERROR\n";
    t.pin_file = dir / "user.pin";
    std::ofstream(t.pin_file) << kUserPin;
    ::chmod(t.pin_file.c_str(), 0600);
    t.env = {"SOFTHSM2_CONF=" + t.conf.string()};
    ::setenv("SOFTHSM2_CONF", t.conf.c_str(), 1);  // for the module loaded in this process

    ChildProcess init({o.softhsm2_util, "--init-token", "--free", "--label", kTokenLabel, "--pin", kUserPin,
                       "--so-pin", kSoPin},
                      t.env, dir / "softhsm2-util.log");
    if (int rc = init.wait(std::chrono::seconds(30)); rc != 0)
        throw Error(Errc::token_error, fmt::format("softhsm2-util --init-token failed ({}): {}", rc, init.log_tail()));
    return t;
}

// Signs in a loop through a PKCS#11 module, one session per thread; records `path` rows.
void bench_pkcs11(const Options& o, Report& report, Pkcs11Module& module, const std::string& path,
                  const P256Verifier& verifier) {
    const CK_SLOT_ID slot = module.find_slot(kTokenLabel);
    for (std::size_t threads : kThreadCounts) {
        check_stop();
        auto prepare = [&](std::size_t i) -> Step {
            auto session = std::make_shared<SessionHandle>(module.open_session(slot));
            module.login(session->get(), kUserPin);
            const CK_OBJECT_HANDLE key = module.find_object(session->get(), CKO_PRIVATE_KEY, kKeyLabel);
            auto digest = std::make_shared<Bytes>(digest_for(i, 0));
            std::uint8_t sig[64];
            std::size_t len = module.sign_ecdsa(session->get(), key, *digest, sig);
            require_valid(verifier, *digest, std::span(sig, len), path);
            return [&module, session, key, digest]() -> std::uint64_t {
                std::uint8_t out[64];
                module.sign_ecdsa(session->get(), key, *digest, out);
                return 1;
            };
        };
        report.add_throughput(path, "single", measure_throughput(threads, std::chrono::duration<double>(o.seconds),
                                                                  prepare, g_stop));
    }
}

// Creates the key on the token in this process; returns a verifier for its public key.
P256Verifier create_key_and_bench_in_process(const Options& o, Report& report) {
    Pkcs11Module module(o.module);
    const CK_SLOT_ID slot = module.find_slot(kTokenLabel);
    std::optional<P256Verifier> verifier;
    {
        SessionHandle session = module.open_session(slot);
        module.login(session.get(), kUserPin);
        auto pair = module.generate_p256(session.get(), kKeyLabel, kKeyId);
        verifier = P256Verifier::from_ec_point(module.attribute(session.get(), pair.public_key, CKA_EC_POINT));
    }
    bench_pkcs11(o, report, module, "in-process", *verifier);
    return std::move(*verifier);
}

// The same loop through p11-kit's remote module talking to `p11-kit server`.
void bench_p11kit(const Options& o, Report& report, const Token& token, const std::filesystem::path& dir,
                  const P256Verifier& verifier) {
    P11KitServer server(o.p11kit, o.module, kTokenLabel, dir, token.env, g_stop);
    ::setenv("P11_KIT_SERVER_ADDRESS", server.address().c_str(), 1);
    Pkcs11Module client(o.p11kit_client);
    bench_pkcs11(o, report, client, "p11-kit-server", verifier);

    // The same many-clients runs: one thread and one PKCS#11 session per client, all
    // through the remote module loaded in this process.
    const CK_SLOT_ID slot = client.find_slot(kTokenLabel);
    auto prepare = [&client, slot](std::size_t i) -> Request {
        auto session = std::make_shared<SessionHandle>(client.open_session(slot));
        client.login(session->get(), kUserPin);
        const CK_OBJECT_HANDLE key = client.find_object(session->get(), CKO_PRIVATE_KEY, kKeyLabel);
        auto digest = std::make_shared<Bytes>(digest_for(i, 0));
        return [&client, session, key, digest] {
            std::uint8_t out[64];
            client.sign_ecdsa(session->get(), key, *digest, out);
        };
    };
    std::vector<std::size_t> counts = o.clients;
    std::sort(counts.begin(), counts.end());
    for (std::size_t clients : counts) {
        check_stop();
        if (clients > o.p11kit_max_clients) {
            report.add_note(fmt::format("p11-kit-server with {} clients not run (--p11kit-max-clients {})", clients,
                                        o.p11kit_max_clients));
            continue;
        }
        try {
            report.add_latency("p11-kit-server",
                               measure_latency(clients, UINT64_MAX, std::chrono::duration<double>(o.seconds), prepare,
                                               g_stop));
        } catch (const std::exception& e) {
            if (g_stop) throw;
            report.add_note(fmt::format("p11-kit-server with {} clients failed, larger counts not run: {}", clients,
                                        e.what()));
            break;
        }
    }
}

// Finds the benchmark key among trustkeyd's keys and checks it is the token's key.
std::string find_daemon_key(const std::string& socket, const P256Verifier& verifier) {
    auto client = proto::Client::connect(socket);
    for (const auto& k : client.list_keys()) {
        if (k.name() != kKeyLabel) continue;
        if (P256Verifier::from_spki(bytes_of(k.public_key())).spki_der() != verifier.spki_der())
            throw Error(Errc::internal, "trustkeyd reports another public key for " + std::string(kKeyLabel));
        return k.id();
    }
    throw Error(Errc::not_found, "trustkeyd does not list the key " + std::string(kKeyLabel));
}

PrepareStep daemon_step(const Options& o, const std::string& socket, const std::string& key, const std::string& mode,
                        const P256Verifier& verifier) {
    return [&o, &socket, &key, mode, &verifier](std::size_t i) -> Step {
        auto client = std::make_shared<proto::Client>(proto::Client::connect(socket));
        auto items = std::make_shared<std::vector<Bytes>>(digests_for(i, mode == "single" ? 1 : o.batch));
        const std::string where = "trustkeyd " + mode;
        // One call outside the clock, whose signatures are checked.
        std::vector<Bytes> sigs;
        if (mode == "single") {
            auto r = client->sign(key, pb::HASH_SHA256, items->front());
            sigs.emplace_back(r.signature().begin(), r.signature().end());
        } else if (mode == "pipelined") {
            sigs = client->sign_pipelined(key, pb::HASH_SHA256, *items, o.window);
        } else {
            auto r = client->sign_batch(key, pb::HASH_SHA256, *items);
            for (const auto& s : r.signatures()) sigs.emplace_back(s.begin(), s.end());
        }
        if (sigs.size() != items->size())
            throw Error(Errc::internal, fmt::format("{}: {} signatures for {} digests", where, sigs.size(),
                                                    items->size()));
        require_valid(verifier, items->front(), sigs.front(), where);
        require_valid(verifier, items->back(), sigs.back(), where);

        const std::size_t window = o.window;
        if (mode == "single")
            return [client, items, key]() -> std::uint64_t {
                client->sign(key, pb::HASH_SHA256, items->front());
                return 1;
            };
        if (mode == "pipelined")
            return [client, items, key, window]() -> std::uint64_t {
                return client->sign_pipelined(key, pb::HASH_SHA256, *items, window).size();
            };
        return [client, items, key]() -> std::uint64_t {
            return static_cast<std::uint64_t>(client->sign_batch(key, pb::HASH_SHA256, *items).signatures_size());
        };
    };
}

// What the target checks need beyond the report's rows, per client count.
struct DaemonFigures {
    std::map<std::size_t, std::size_t> threads;
    std::map<std::size_t, double> hwm_mib;
    // (a): trustkeyd with one client over the bare signer, round by round.
    std::vector<double> ceiling_ratios;
};

constexpr int kCeilingRounds = 5;

double median_of(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

DaemonFigures bench_trustkeyd(const Options& o, Report& report, const Token& token, const std::filesystem::path& dir,
                              const P256Verifier& verifier) {
    DaemonFigures result;
    TrustkeydOptions t;
    t.binary = o.trustkeyd;
    t.dir = dir;
    t.module = o.module;
    t.token_label = kTokenLabel;
    t.pin_file = token.pin_file;
    t.sessions = o.sessions;
    t.max_connections = o.max_connections;
    t.log_level = o.log_level;
    t.env = token.env;
    TrustkeydProcess daemon(t, g_stop);
    const double idle_mib = static_cast<double>(read_memory(daemon.pid()).rss) / 1024.0;
    report.add_memory("VmRSS idle after startup", idle_mib);

    const std::string key = find_daemon_key(daemon.socket_path(), verifier);
    for (const char* mode : {"single", "pipelined", "batch"}) {
        for (std::size_t threads : kThreadCounts) {
            check_stop();
            report.add_throughput("trustkeyd", mode,
                                  measure_throughput(threads, std::chrono::duration<double>(o.seconds),
                                                     daemon_step(o, daemon.socket_path(), key, mode, verifier),
                                                     g_stop));
        }
    }

    // (a): one client of trustkeyd and the bare signer in turns, the order swapped from round to
    // round, so the machine's drift weighs on both alike; the median of the rounds' ratios counts.
    for (int round = 0; round < kCeilingRounds; ++round) {
        check_stop();
        const double seconds = std::min(o.seconds, 1.0);
        double tk = 0, bare = 0;
        const auto run_trustkeyd = [&] {
            tk = measure_throughput(1, std::chrono::duration<double>(seconds),
                                    daemon_step(o, daemon.socket_path(), key, "single", verifier), g_stop)
                     .per_second();
        };
        const auto run_bare = [&] { bare = bare_signer_rate(BareSigner{o.module, kTokenLabel, kUserPin, kKeyLabel}, seconds); };
        if (round % 2 == 0) {
            run_trustkeyd();
            run_bare();
        } else {
            run_bare();
            run_trustkeyd();
        }
        if (bare <= 0) continue;
        result.ceiling_ratios.push_back(tk / bare);
        report.add_figure(fmt::format("(a) round {}: trustkeyd 1 client / bare signer, sig/s", round + 1),
                          fmt::format("{:.0f} / {:.0f} = {:.3f}", tk, bare, tk / bare));
    }

    // Many clients at once, from the fewest to the most.
    std::vector<std::size_t> counts = o.clients;
    std::sort(counts.begin(), counts.end());
    for (std::size_t clients : counts) {
        check_stop();
        ClientLoadOptions load;
        load.socket = daemon.socket_path();
        load.key = key;
        load.clients = clients;
        load.threads = o.driver_threads;
        load.duration = std::chrono::duration<double>(o.seconds);
        load.server_pid = daemon.pid();
        load.verify = [&verifier](std::span<const std::uint8_t> digest, std::span<const std::uint8_t> sig) {
            return verifier.verify(digest, sig);
        };
        ProcessSampler sampler(daemon.pid());
        Latency latency = run_client_load(load, g_stop);
        const auto peak = sampler.stop();
        report.add_figure(fmt::format("CPU s while timed, {} clients: trustkeyd / bench / wall", clients),
                          fmt::format("{:.2f} / {:.2f} / {:.2f}", latency.server_cpu_seconds,
                                      latency.client_cpu_seconds, latency.seconds));
        const auto mem = read_memory(daemon.pid());
        report.add_latency("trustkeyd", latency);
        report.add_memory(fmt::format("VmRSS max sampled, {} clients", clients),
                          static_cast<double>(peak.rss_kib) / 1024.0);
        report.add_memory(fmt::format("VmHWM (peak resident so far) after {} clients", clients),
                          static_cast<double>(mem.hwm) / 1024.0);
        report.add_figure(fmt::format("threads (/proc/PID/task, most seen), {} clients", clients),
                          std::to_string(peak.threads));
        result.threads[clients] = peak.threads;
        result.hwm_mib[clients] = static_cast<double>(mem.hwm) / 1024.0;
    }
    report.add_ratio("trustkeyd VmRSS idle", idle_mib, 16.0, true, " MiB");
    return result;
}

// The ratios to the raw token and to p11-kit server, per mode and thread count.
void add_ratios(Report& report) {
    for (const char* mode : {"single", "pipelined", "batch"}) {
        for (std::size_t threads : kThreadCounts) {
            auto d = report.rate("trustkeyd", mode, threads);
            if (!d) continue;
            if (auto base = report.rate("in-process", "single", threads); base && *base > 0)
                report.add_ratio(fmt::format("trustkeyd {} / in-process, {} thr", mode, threads), *d / *base, 0.90,
                                 false);
            if (auto peer = report.rate("p11-kit-server", "single", threads); peer && *peer > 0)
                report.add_ratio(fmt::format("trustkeyd {} / p11-kit-server, {} thr", mode, threads), *d / *peer,
                                 2.5, false);
        }
    }
}

// (a) one request at a time against what one bare socket round trip per signature allows:
// measured by a bare in-process signer behind a socket (the same token work and round trip,
// with the wake-ups a round trip costs when the other side computes in between), in turns
// with trustkeyd; the ceiling summed from the two figures measured apart is printed beside it.
void add_ceiling_check(Report& report, double rt_us, const std::vector<double>& ratios) {
    const auto base = report.rate("in-process", "single", 1);
    const auto d = report.rate("trustkeyd", "single", 1);
    if (!base || *base <= 0) return;
    const double summed = 1.0 / (1.0 / *base + rt_us * 1e-6);
    report.add_note(fmt::format("(a) summed ceiling = 1 / (1 / in-process 1 thr + socket round trip) = 1 / (1 / {:.0f} + "
                                "{:.1f} us) = {:.0f} sig/s ({:.2f} of in-process)",
                                *base, rt_us, summed, summed / *base));
    if (d) report.add_figure("(a) trustkeyd single, 1 client / summed ceiling", fmt::format("{:.3f}", *d / summed));
    if (ratios.empty()) {
        report.add_note("(a) not checked: the bare signer could not be measured");
        return;
    }
    report.add_note(fmt::format("(a) measured ceiling: a bare signer (in-process PKCS#11 behind a Unix socket, no "
                                "protocol), {} rounds in turns with trustkeyd (figures above)",
                                ratios.size()));
    report.add_ratio("(a) trustkeyd single, 1 client / bare signer (median)", median_of(ratios), 0.90, false);
}

// (b) 64 clients: throughput against the raw token at 2 threads; p99 against Little's law.
void add_many_clients_checks(Report& report) {
    const Latency* l = report.latency("trustkeyd", kTargetClients);
    if (!l) {
        report.add_note(fmt::format("(b) not checked: no {}-client run (--clients)", kTargetClients));
        return;
    }
    if (auto base = report.rate("in-process", "single", 2); base && *base > 0)
        report.add_ratio(fmt::format("(b) {} clients: throughput / in-process, 2 thr", kTargetClients),
                         l->per_second() / *base, 0.90, false);
    if (l->per_second() > 0) {
        const double mean_ms = static_cast<double>(kTargetClients) / l->per_second() * 1e3;
        report.add_note(fmt::format("(b) {} clients: {:.0f} ok/s, so Little's-law mean latency {} / {:.0f} = {:.3f} "
                                    "ms; p50 {:.3f}, p99 {:.3f}, max {:.3f} ms",
                                    kTargetClients, l->per_second(), kTargetClients, l->per_second(), mean_ms,
                                    l->p50_ms, l->p99_ms, l->max_ms));
        report.add_check(fmt::format("(b) {} clients: p99 / Little's-law mean", kTargetClients), l->p99_ms / mean_ms,
                         "<=", 2.0);
    }
}

// (c) a thousand clients: memory, threads, nothing lost.
void add_thousand_clients_checks(Report& report, const DaemonFigures& f) {
    const Latency* l = report.latency("trustkeyd", kManyClients);
    if (!l) {
        report.add_note(fmt::format("(c) not checked: no {}-client run (--clients)", kManyClients));
        return;
    }
    if (auto it = f.hwm_mib.find(kManyClients); it != f.hwm_mib.end())
        report.add_check(fmt::format("(c) {} clients: trustkeyd peak RSS (VmHWM)", kManyClients), it->second, "<",
                         64.0, " MiB", 2);
    const auto one = f.threads.find(1);
    const auto many = f.threads.find(kManyClients);
    if (one != f.threads.end() && many != f.threads.end())
        report.add_check(fmt::format("(c) trustkeyd threads at {} clients (fixed: <= at 1)", kManyClients),
                         static_cast<double>(many->second), "<=", static_cast<double>(one->second), "", 0);
    else
        report.add_note("(c) thread count not compared: no 1-client run (--clients)");
    report.add_note(fmt::format("(c) {} clients: {} requests sent, {} answered OK, {} answered otherwise, {} "
                                "unanswered; {} clients could not connect",
                                kManyClients, l->requests, l->ok, l->requests - l->ok - l->unanswered, l->unanswered,
                                l->failures.count("connect failed") ? l->failures.at("connect failed") : 0));
    report.add_check(fmt::format("(c) {} clients: requests lost (not answered OK)", kManyClients),
                     static_cast<double>(l->lost()), "==", 0.0, "", 0);
}

// The first three fields of /proc/loadavg: other work on the machine skews every figure.
std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return in ? a + " " + b + " " + c : std::string("unknown");
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    return "unknown";
}

// The p50/p99/max of each client count, trustkeyd beside p11-kit server, for gnuplot
// (bench/plot_latency.sh). NaN where a run did not happen.
void write_latency_data(const Options& o, const Report& report, const std::string& machine) {
    std::ofstream out(o.latency_data);
    out << "# sign_bench: single ECDSA P-256 Sign latency (ms), each client one connection or session with one "
           "request outstanding\n"
        << "# " << machine << "\n"
        << "# clients trustkeyd_p50 trustkeyd_p99 trustkeyd_max p11kit_p50 p11kit_p99 p11kit_max\n";
    std::vector<std::size_t> counts = o.clients;
    std::sort(counts.begin(), counts.end());
    for (std::size_t c : counts) {
        out << c;
        for (const char* path : {"trustkeyd", "p11-kit-server"}) {
            const Latency* l = report.latency(path, c);
            if (l && l->ok > 0)
                out << fmt::format(" {:.4f} {:.4f} {:.4f}", l->p50_ms, l->p99_ms, l->max_ms);
            else
                out << " NaN NaN NaN";
        }
        out << "\n";
    }
    if (!out) throw Error(Errc::io, "cannot write the latency data", 0, {}, o.latency_data);
}

int run(const Options& o) {
    TempDir dir("trustkey-bench-");
    const std::string load_before = load_average();
    const std::string machine =
        fmt::format("{} CPUs ({}), load average at start {}", std::thread::hardware_concurrency(), cpu_model(),
                    load_before);
    Report report;
    const Token token = make_token(o, dir.path());
    fmt::print("sign_bench: token \"{}\" in {}, {} s per measurement\n", kTokenLabel, dir.path().string(), o.seconds);
    fmt::print("machine: {} CPUs, {}; load average (1/5/15 min) at start: {}\n", std::thread::hardware_concurrency(),
               cpu_model(), load_before);
    std::fflush(stdout);

    P256Verifier verifier = create_key_and_bench_in_process(o, report);
    check_stop();

    std::string failed;
    DaemonFigures figures;
    try {
        figures = bench_trustkeyd(o, report, token, dir.path(), verifier);
    } catch (const std::exception& e) {
        if (g_stop) throw;
        failed = e.what();
        report.add_note("trustkeyd part not measured: " + failed);
    }
    check_stop();
    bench_p11kit(o, report, token, dir.path(), verifier);

    // What a client that waits for each reply can reach at best, whatever the server does.
    const double rt_us = socket_round_trip_us(std::min(o.seconds, 1.0));
    report.add_note(fmt::format("Unix socket round trip between two processes here: {:.1f} us", rt_us));
    add_ceiling_check(report, rt_us, figures.ceiling_ratios);
    add_many_clients_checks(report);
    add_thousand_clients_checks(report, figures);
    add_ratios(report);

    report.add_note(fmt::format("load average (1/5/15 min) at start: {}; at end: {}; CPUs: {}; CPU: {}", load_before,
                                load_average(), std::thread::hardware_concurrency(), cpu_model()));
    report.add_note(fmt::format("trustkeyd config: sessions = {}, max_connections = {}, log_level = \"{}\"; batch = "
                                "{}, window = {}; many-clients runs driven by {} threads (epoll)",
                                o.sessions, o.max_connections, o.log_level, o.batch, o.window, o.driver_threads));
    report.print(stdout);
    if (!o.latency_data.empty()) {
        write_latency_data(o, report, machine);
        fmt::print("\nlatency data written to {} (draw it with bench/plot_latency.sh)\n", o.latency_data);
    }
    if (!o.json.empty()) {
        auto j = report.to_json();
        j["seconds_per_measurement"] = o.seconds;
        if (o.json == "-") {
            std::cout << j.dump(2) << "\n";
        } else {
            std::ofstream out(o.json);
            out << j.dump(2) << "\n";
            if (!out) throw Error(Errc::io, "cannot write the JSON report", 0, {}, o.json);
        }
    }
    return failed.empty() ? 0 : 2;
}

// Many clients need many descriptors: the bench's own, and trustkeyd's, which inherits them.
void raise_open_files_limit() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &r);
    }
}

} // namespace
} // namespace trustkey::bench

int main(int argc, char** argv) {
    using trustkey::bench::Options;
    Options o;
    CLI::App app{"Measures ECDSA P-256 signing throughput and latency: in-process PKCS#11, trustkeyd, p11-kit server"};
    app.add_option("--seconds", o.seconds, "Duration of each measurement")->check(CLI::Range(0.1, 60.0));
    app.add_option("--trustkeyd", o.trustkeyd, "trustkeyd binary")->capture_default_str();
    app.add_option("--module", o.module, "SoftHSM2 PKCS#11 module")->capture_default_str();
    app.add_option("--p11-kit", o.p11kit, "p11-kit program")->capture_default_str();
    app.add_option("--p11-kit-client", o.p11kit_client, "p11-kit remote client module")->capture_default_str();
    app.add_option("--softhsm2-util", o.softhsm2_util, "softhsm2-util program")->capture_default_str();
    app.add_option("--batch", o.batch, "Digests per sign-batch / pipelined call")
        ->check(CLI::Range(1, static_cast<int>(trustkey::proto::kBatchLimitEcdsaP256)))
        ->capture_default_str();
    app.add_option("--window", o.window, "Pipelining window")->check(CLI::Range(1, 1024))->capture_default_str();
    app.add_option("--clients", o.clients, "Concurrent clients of the latency runs, a comma-separated list")
        ->delimiter(',')
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("--driver-threads", o.driver_threads, "Threads driving trustkeyd's clients in the latency runs")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--p11kit-max-clients", o.p11kit_max_clients,
                   "Largest client count run against p11-kit server (one thread per client)")
        ->capture_default_str();
    bool quick = false;
    app.add_flag("--quick", quick, "Short run: 0.5 s per measurement, clients 1,64,1000 (overrides those options)");
    app.add_option("--latency-data", o.latency_data, "Write the latency percentiles per client count to this file");
    app.add_option("--max-connections", o.max_connections, "trustkeyd's max_connections")
        ->check(CLI::Range(1, 65536))
        ->capture_default_str();
    app.add_option("--sessions", o.sessions, "trustkeyd PKCS#11 session pool size")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--log-level", o.log_level, "trustkeyd log level")->capture_default_str();
    app.add_option("--json", o.json, "Also write the figures as JSON to this file ('-': stdout)");
    CLI11_PARSE(app, argc, argv);
    if (quick) {
        o.seconds = 0.5;
        o.clients = {1, 64, 1000};
    }
    if (o.clients.empty()) {
        std::fprintf(stderr, "sign_bench: --clients needs at least one count\n");
        return 1;
    }
    trustkey::bench::raise_open_files_limit();

    struct sigaction sa {};
    sa.sa_handler = trustkey::bench::on_signal;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    try {
        return trustkey::bench::run(o);
    } catch (const std::exception& e) {
        fmt::print(stderr, "sign_bench: {}\n", e.what());
        return 1;
    }
}
