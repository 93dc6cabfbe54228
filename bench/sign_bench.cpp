// sign_bench: ECDSA P-256 signatures per second on one SoftHSM2 token, reached
// (a) in-process through PKCS#11, (b) through trustkeyd, (c) through p11-kit server;
// plus trustkeyd's latency under 64 clients and its memory. Prints figures; not a test.
#include <signal.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/child_process.h"
#include "bench/latency.h"
#include "bench/p11kit_server.h"
#include "bench/p256_verifier.h"
#include "bench/pkcs11_module.h"
#include "bench/report.h"
#include "bench/rss_sampler.h"
#include "bench/socket_round_trip.h"
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
    std::size_t clients = 64;
    std::uint64_t latency_requests = 200;
    std::size_t sessions = 4;
    std::string log_level = "warn";
    std::string json;
};

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

void bench_trustkeyd(const Options& o, Report& report, const Token& token, const std::filesystem::path& dir,
                     const P256Verifier& verifier) {
    TrustkeydOptions t;
    t.binary = o.trustkeyd;
    t.dir = dir;
    t.module = o.module;
    t.token_label = kTokenLabel;
    t.pin_file = token.pin_file;
    t.sessions = o.sessions;
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

    check_stop();
    const std::string socket = daemon.socket_path();
    auto prepare = [&socket, &key](std::size_t i) -> Request {
        auto client = std::make_shared<proto::Client>(proto::Client::connect(socket));
        auto digest = std::make_shared<Bytes>(digest_for(i, 0));
        return [client, digest, key] { client->sign(key, pb::HASH_SHA256, *digest); };
    };
    RssSampler sampler(daemon.pid());
    Latency latency = measure_latency(o.clients, o.latency_requests, std::chrono::duration<double>(o.seconds),
                                      prepare, g_stop);
    const double sampled_mib = static_cast<double>(sampler.stop()) / 1024.0;
    const double hwm_mib = static_cast<double>(read_memory(daemon.pid()).hwm) / 1024.0;
    report.add_latency("trustkeyd", latency);
    report.add_memory(fmt::format("VmRSS max sampled during {}-client load", o.clients), sampled_mib);
    report.add_memory("VmHWM (peak resident) at the end", hwm_mib);

    report.add_ratio(fmt::format("p99 single sign, {} clients", o.clients), latency.p99_ms, 1.0, true, " ms");
    report.add_ratio("trustkeyd VmRSS idle", idle_mib, 16.0, true, " MiB");
}

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

// The first three fields of /proc/loadavg: other work on the machine skews every figure.
std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return in ? a + " " + b + " " + c : std::string("unknown");
}

int run(const Options& o) {
    TempDir dir("trustkey-bench-");
    const std::string load_before = load_average();
    Report report;
    const Token token = make_token(o, dir.path());
    fmt::print("sign_bench: token \"{}\" in {}, {} s per measurement\n", kTokenLabel, dir.path().string(), o.seconds);
    std::fflush(stdout);

    P256Verifier verifier = create_key_and_bench_in_process(o, report);
    check_stop();

    std::string failed;
    try {
        bench_trustkeyd(o, report, token, dir.path(), verifier);
    } catch (const std::exception& e) {
        if (g_stop) throw;
        failed = e.what();
        report.add_note("trustkeyd part not measured: " + failed);
    }
    check_stop();
    bench_p11kit(o, report, token, dir.path(), verifier);

    add_ratios(report);
    // What a client that waits for each reply can reach at best, whatever the server does.
    const double rt_us = socket_round_trip_us(std::min(o.seconds, 1.0));
    if (const auto base = report.rate("in-process", "single", 1)) {
        const double ceiling = 1.0 / (1.0 / *base + rt_us * 1e-6);
        report.add_note(fmt::format("Unix socket round trip between two processes here: {:.1f} us; so one request at a "
                                    "time can reach at most {:.0f} sig/s = {:.2f} of in-process (1 thread)",
                                    rt_us, ceiling, ceiling / *base));
    }
    report.add_note(fmt::format("load average (1/5/15 min) at start: {}; at end: {}; CPUs: {}", load_before,
                                load_average(), std::thread::hardware_concurrency()));
    report.add_note(fmt::format("trustkeyd config: sessions = {}, log_level = \"{}\"; batch = {}, window = {}",
                                o.sessions, o.log_level, o.batch, o.window));
    report.print(stdout);
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
    app.add_option("--clients", o.clients, "Concurrent clients for the latency run")
        ->check(CLI::Range(1, 200))
        ->capture_default_str();
    app.add_option("--latency-requests", o.latency_requests, "Requests per client in the latency run")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    app.add_option("--sessions", o.sessions, "trustkeyd PKCS#11 session pool size")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--log-level", o.log_level, "trustkeyd log level")->capture_default_str();
    app.add_option("--json", o.json, "Also write the figures as JSON to this file ('-': stdout)");
    CLI11_PARSE(app, argc, argv);

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
