// trust_publish_bench: signing N tags (1,000 by default) into one repository with one
// publish, by `trustkey trust sign` (keys in trustkeyd on a SoftHSM2 token) and by the
// real notary CLI (`notary add` per tag, then `notary publish`, file keys), in one run
// against the same real notary-server + notary-signer. Prints figures; not a test.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lib/core/encoding.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/process.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/fixtures/trustkeyd_instance.h"

#ifndef TRUSTKEY_BENCH_TRUSTKEYD
#define TRUSTKEY_BENCH_TRUSTKEYD ""
#endif
#ifndef TRUSTKEY_BENCH_TRUSTKEY
#define TRUSTKEY_BENCH_TRUSTKEY ""
#endif

namespace trustkey::bench {
namespace {

namespace fs = std::filesystem;
using test::NotaryServer;
using test::ProcessOptions;
using test::ProcessResult;
using Clock = std::chrono::steady_clock;

// The signer's name on both sides: delegation targets/<kSigner> and targets/releases.
constexpr const char* kSigner = "bench";
constexpr const char* kUserPin = "246810";
// The "manifest" every tag points at: same bytes, so the same digest and size on both sides.
constexpr std::size_t kManifestSize = 1234;
constexpr auto kCommandTimeout = std::chrono::minutes(10);

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

void check_stop() {
    if (g_stop) throw std::runtime_error("interrupted");
}

struct Options {
    std::size_t tags = 1000;
    std::size_t runs = 3;
    std::string trustkeyd = TRUSTKEY_BENCH_TRUSTKEYD;
    std::string trustkey = TRUSTKEY_BENCH_TRUSTKEY;
    bool baseline = true;  // also time a one-tag sign into a fresh repository (trustkey's fixed cost)
};

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string tag_name(std::size_t i) { return fmt::format("tag{:04}", i); }

std::string describe(const std::vector<std::string>& argv, const ProcessResult& r) {
    std::string line;
    for (std::size_t i = 0; i < argv.size() && i < 12; ++i) line += (i ? " " : "") + argv[i];
    if (argv.size() > 12) line += fmt::format(" … ({} arguments)", argv.size());
    std::string err = r.err.size() > 2000 ? r.err.substr(r.err.size() - 2000) : r.err;
    return fmt::format("`{}` {}\nstderr:\n{}", line,
                       r.timed_out ? std::string("timed out") : fmt::format("exited {}", r.exit_code), err);
}

ProcessResult require_ok(const std::vector<std::string>& argv, ProcessResult r) {
    if (r.exit_code != 0) throw std::runtime_error(describe(argv, r));
    return r;
}

// The first three fields of /proc/loadavg: other work on the machine skews every figure.
std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return in ? a + " " + b + " " + c : std::string("unknown");
}

// Everything both sides share: the notary server, the manifest file and its digest.
struct Bench {
    const Options& options;
    NotaryServer& notary;
    test::TempDir& work;
    fs::path manifest;
    std::string digest_hex;
    fs::path delegation_key, delegation_cert;
};

// ---- trustkey ---------------------------------------------------------------------------

class TrustkeySide {
public:
    TrustkeySide(Bench& b, const fs::path& socket) : m_b(b), m_socket(socket) {
        run({"key", "generate", kSigner, "--dir", (m_b.work / "trustkey").string()});
    }

    // `trustkey … trust ARGS`; throws unless it succeeds.
    ProcessResult run(const std::vector<std::string>& args) const {
        std::vector<std::string> argv{m_b.options.trustkey, "--socket",  m_socket.string(), "trust",
                                      "--server",           m_b.notary.url(), "--tlscacert",
                                      m_b.notary.ca_cert_path().string(),     "--trust-dir",
                                      (m_b.work / "trustkey" / "trust").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions o;
        o.timeout = kCommandTimeout;
        o.env = {"DOCKER_CONFIG=" + (m_b.work / "trustkey" / "docker").string()};
        o.unset = {"TRUSTKEY_SOCK", "DOCKER_CONTENT_TRUST_SERVER"};
        return require_ok(argv, test::run_process(argv, o));
    }

    // A repository with signer kSigner (this also initializes it: root and targets keys on the token).
    void create(const std::string& gun) const {
        run({"signer", "add", "--key", (m_b.work / "trustkey" / (std::string(kSigner) + ".pub")).string(), kSigner,
             gun});
    }

    // One `trust sign` of `count` tags; returns its wall-clock seconds.
    double sign(const std::string& gun, std::size_t count) const {
        std::vector<std::string> args{"sign"};
        for (std::size_t i = 1; i <= count; ++i) args.push_back(gun + ":" + tag_name(i));
        args.insert(args.end(), {"--digest", "sha256:" + m_b.digest_hex, "--size", std::to_string(kManifestSize)});
        const auto start = Clock::now();
        run(args);
        return seconds_since(start);
    }

private:
    Bench& m_b;
    fs::path m_socket;
};

// ---- notary CLI ----------------------------------------------------------------------------

class NotarySide {
public:
    explicit NotarySide(Bench& b) : m_b(b) {}

    ProcessResult run(const fs::path& trust_dir, const std::vector<std::string>& args) const {
        std::vector<std::string> argv{"notary"};
        argv.insert(argv.end(), args.begin(), args.end());
        return require_ok(argv, m_b.notary.run_notary(trust_dir, args));
    }

    // As `trustkey trust signer add` leaves a repository: initialized, snapshot key on the
    // server, delegations targets/releases and targets/<kSigner> with the signer's key
    // (certificate), all paths; the signer's private key imported into the trust dir.
    void create(const fs::path& trust_dir, const std::string& gun) const {
        run(trust_dir, {"init", "-p", gun});
        run(trust_dir, {"key", "rotate", gun, "snapshot", "-r"});
        for (const std::string& role : {std::string("targets/releases"), std::string("targets/") + kSigner})
            run(trust_dir, {"delegation", "add", "-p", gun, role, m_b.delegation_cert.string(), "--all-paths"});
        run(trust_dir, {"key", "import", m_b.delegation_key.string(), "--role", "targets/releases"});
    }

    struct Times {
        double stage = 0;    // all `notary add` commands
        double publish = 0;  // `notary publish`
    };
    // `notary add` per tag into both delegations (as docker signs), then one `notary publish`.
    Times sign(const fs::path& trust_dir, const std::string& gun, std::size_t count) const {
        Times t;
        const auto start = Clock::now();
        for (std::size_t i = 1; i <= count; ++i) {
            check_stop();
            run(trust_dir, {"add", gun, tag_name(i), m_b.manifest.string(), "--roles", "targets/releases", "--roles",
                            std::string("targets/") + kSigner});
        }
        t.stage = seconds_since(start);
        const auto publish = Clock::now();
        run(trust_dir, {"publish", gun});
        t.publish = seconds_since(publish);
        return t;
    }

private:
    Bench& m_b;
};

// ---- checking what was published -------------------------------------------------------------

// Reads `gun` back with the real notary CLI from a fresh trust directory (so it verifies
// the whole chain from the server) and throws unless each of `roles` (and the merged
// list) holds exactly tags tag0001..tagN with the manifest's digest and size.
void verify_published(Bench& b, const std::string& gun, std::size_t count, const std::string& label) {
    static int checks = 0;
    std::vector<std::string> roles{"", "targets/releases", std::string("targets/") + kSigner};
    for (const auto& role : roles) {
        const fs::path dir = b.work / fmt::format("verify-{}", ++checks);
        std::vector<std::string> args{"list", gun};
        if (!role.empty()) args.insert(args.end(), {"--roles", role});
        const ProcessResult r = b.notary.run_notary(dir, args);
        if (r.exit_code != 0) throw std::runtime_error(label + ": " + describe(args, r));
        std::set<std::string> seen;
        std::istringstream lines(r.out);
        const std::string size = std::to_string(kManifestSize);
        for (std::string line; std::getline(lines, line);) {
            std::istringstream fields(line);
            std::string name, digest, bytes;
            fields >> name >> digest >> bytes;
            if (name.rfind("tag", 0) != 0) continue;
            if (digest != b.digest_hex || bytes != size)
                throw std::runtime_error(fmt::format("{}: `notary list {}{}` shows a wrong digest or size: {}", label,
                                                     gun, role.empty() ? "" : " --roles " + role, line));
            seen.insert(name);
        }
        std::size_t expected = 0;
        for (std::size_t i = 1; i <= count; ++i) expected += seen.count(tag_name(i));
        if (expected != count || seen.size() != count)
            throw std::runtime_error(fmt::format("{}: `notary list {}{}` shows {} tags, {} of tag0001..{}; expected {}",
                                                 label, gun, role.empty() ? "" : " --roles " + role, seen.size(),
                                                 expected, tag_name(count), count));
    }
}

// ---- the run -----------------------------------------------------------------------------------

struct RunFigures {
    double trustkey_total = 0;
    double trustkey_one = -1;  // one tag into a fresh repository; -1 when not measured
    NotarySide::Times notary;
    double notary_total() const { return notary.stage + notary.publish; }
};

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

int run(const Options& o) {
    if (o.trustkeyd.empty() || o.trustkey.empty())
        throw std::runtime_error("no trustkeyd or trustkey binary: build those targets or pass --trustkeyd/--trustkey");
    const std::string load_before = load_average();
    test::TempDir work("trustkey-publish-bench");
    fs::create_directories(work / "trustkey");

    // A fresh SoftHSM2 token and trustkeyd serving it.
    test::SoftHsmToken token("publish-bench", kUserPin);
    test::write_file(work / "user.pin", kUserPin);
    fs::permissions(work / "user.pin", fs::perms::owner_read | fs::perms::owner_write);
    test::TrustkeydInstance::Options daemon_options;
    daemon_options.config_toml = "log_level = \"warn\"\n\n[[pkcs11]]\nname = \"bench\"\nmodule = \"" +
                                 test::SoftHsmToken::module() + "\"\ntoken = \"" + token.uri() +
                                 "\"\npin_file = \"" + (work / "user.pin").string() + "\"\n";
    daemon_options.env = {"SOFTHSM2_CONF=" + token.conf_path().string()};
    daemon_options.socket = work / "agent.sock";
    test::TrustkeydInstance daemon(o.trustkeyd, daemon_options);

    NotaryServer notary;
    Bench b{o, notary, work, work / "manifest.json", {}, work / "delegation.key", work / "delegation.crt"};
    {
        std::string manifest(kManifestSize, ' ');
        const std::string head = "{\"schemaVersion\":2,\"bench\":\"trust publish\"}";
        std::copy(head.begin(), head.end(), manifest.begin());
        test::write_file(b.manifest, manifest);
        b.digest_hex = to_hex(sha256(as_bytes(manifest)));
    }
    test::make_self_signed_ec_cert(b.delegation_key, b.delegation_cert, kSigner);
    // `notary version` prints no version in Debian's build; ask the package manager.
    const std::vector<std::string> dpkg{"dpkg-query", "-W", "-f", "${Version}", "notary"};
    const ProcessResult version = test::run_process(dpkg);
    const std::string notary_version =
        version.exit_code == 0 ? "Debian notary " + first_line(version.out) : std::string("notary (version unknown)");

    fmt::print("trust_publish_bench: {} tags into one repository with one publish, {} runs\n", o.tags, o.runs);
    fmt::print("notary-server + notary-signer at {} (memory storage); work directory {}\n\n", notary.url(),
               work.path().string());
    std::fflush(stdout);

    TrustkeySide trustkey(b, daemon.socket_path());
    NotarySide notary_cli(b);
    std::vector<RunFigures> runs;
    for (std::size_t run = 1; run <= o.runs; ++run) {
        check_stop();
        RunFigures f;
        // trustkey: repository set up untimed, then one sign command.
        const std::string tk_gun = fmt::format("bench.example/trustkey/run{}", run);
        trustkey.create(tk_gun);
        f.trustkey_total = trustkey.sign(tk_gun, o.tags);
        verify_published(b, tk_gun, o.tags, "trustkey run " + std::to_string(run));
        if (o.baseline) {
            const std::string one_gun = tk_gun + "-one";
            trustkey.create(one_gun);
            f.trustkey_one = trustkey.sign(one_gun, 1);
            verify_published(b, one_gun, 1, "trustkey one-tag run " + std::to_string(run));
        }
        check_stop();
        // notary: its own trust directory (file keys) per run; set up untimed.
        const std::string nt_gun = fmt::format("bench.example/notary/run{}", run);
        const fs::path nt_dir = work / fmt::format("notary-run{}", run);
        notary_cli.create(nt_dir, nt_gun);
        f.notary = notary_cli.sign(nt_dir, nt_gun, o.tags);
        verify_published(b, nt_gun, o.tags, "notary run " + std::to_string(run));
        runs.push_back(f);
        std::fprintf(stderr, "run %zu of %zu done\n", run, o.runs);
    }

    // Per run, then medians.
    fmt::print("Per run (seconds, wall clock)\n");
    fmt::print("{:<4} {:>14} {:>14} {:>14} {:>14} {:>14} {:>9}\n", "run", "trustkey sign", "trustkey 1 tag",
               "notary add all", "notary publish", "notary total", "ratio");
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto& f = runs[i];
        fmt::print("{:<4} {:>14.3f} {:>14} {:>14.3f} {:>14.3f} {:>14.3f} {:>9.1f}\n", i + 1, f.trustkey_total,
                   f.trustkey_one < 0 ? std::string("-") : fmt::format("{:.3f}", f.trustkey_one), f.notary.stage,
                   f.notary.publish, f.notary_total(), f.notary_total() / f.trustkey_total);
    }
    auto med = [&](auto get) {
        std::vector<double> v;
        for (const auto& f : runs) v.push_back(get(f));
        return median(v);
    };
    const double tk_total = med([](const RunFigures& f) { return f.trustkey_total; });
    const double tk_one = med([](const RunFigures& f) { return f.trustkey_one; });
    const double nt_stage = med([](const RunFigures& f) { return f.notary.stage; });
    const double nt_publish = med([](const RunFigures& f) { return f.notary.publish; });
    const double nt_total = med([](const RunFigures& f) { return f.notary_total(); });
    const double n = static_cast<double>(o.tags);

    fmt::print("\nMedians over {} runs, {} tags\n", runs.size(), o.tags);
    fmt::print("{:<10} {:<44} {:>12} {:>14}\n", "side", "phase", "seconds", "ms per tag");
    fmt::print("{:<10} {:<44} {:>12.3f} {:>14.3f}\n", "trustkey", "sign (stage, sign and publish: one command)",
               tk_total, tk_total * 1000 / n);
    if (o.baseline) {
        fmt::print("{:<10} {:<44} {:>12.3f} {:>14}\n", "trustkey", "sign of 1 tag (fixed cost)", tk_one, "-");
        // Noise can make it negative for small N; then it says nothing.
        if (o.tags > 1 && tk_total > tk_one)
            fmt::print("{:<10} {:<44} {:>12} {:>14.3f}\n", "trustkey", "each further tag ((N tags - 1 tag) / (N-1))",
                       "-", (tk_total - tk_one) * 1000 / (n - 1));
    }
    fmt::print("{:<10} {:<44} {:>12.3f} {:>14.3f}\n", "notary", "notary add, all tags (one command per tag)",
               nt_stage, nt_stage * 1000 / n);
    fmt::print("{:<10} {:<44} {:>12.3f} {:>14.3f}\n", "notary", "notary publish", nt_publish, nt_publish * 1000 / n);
    fmt::print("{:<10} {:<44} {:>12.3f} {:>14.3f}\n", "notary", "total", nt_total, nt_total * 1000 / n);

    const double ratio = nt_total / tk_total;
    fmt::print("\nRatios (notary / trustkey, medians)\n");
    fmt::print("{:<44} {:>8.1f}  target >= 10  {}\n", "total", ratio, ratio >= 10 ? "PASS" : "MISS");
    fmt::print("{:<44} {:>8.1f}\n", "notary publish alone / trustkey sign", nt_publish / tk_total);

    fmt::print("\nNotes\n");
    fmt::print("- every run was read back with `notary list` (merged, --roles targets/releases, --roles targets/{}) "
               "from a fresh trust directory: {} tags with the manifest's digest and size each time\n",
               kSigner, o.tags);
    fmt::print("- {}; notary-server/notary-signer from the same package\n", notary_version);
    fmt::print("- load average (1/5/15 min) at start: {}; at end: {}; CPUs: {}\n", load_before, load_average(),
               std::thread::hardware_concurrency());
    return 0;
}

} // namespace
} // namespace trustkey::bench

int main(int argc, char** argv) {
    trustkey::bench::Options o;
    CLI::App app{"Signing N tags into one repository with one publish: trustkey trust sign vs the notary CLI"};
    app.add_option("--tags", o.tags, "Tags signed per run")->capture_default_str()->check(CLI::Range(1, 100000));
    app.add_option("--runs", o.runs, "Runs; medians are printed")->capture_default_str()->check(CLI::Range(1, 20));
    app.add_option("--trustkeyd", o.trustkeyd, "trustkeyd binary")->capture_default_str();
    app.add_option("--trustkey", o.trustkey, "trustkey binary")->capture_default_str();
    bool no_baseline = false;
    app.add_flag("--no-baseline", no_baseline, "Skip the one-tag trustkey sign");
    CLI11_PARSE(app, argc, argv);
    o.baseline = !no_baseline;

    struct sigaction sa{};
    sa.sa_handler = trustkey::bench::on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    try {
        return trustkey::bench::run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "trust_publish_bench: %s\n", e.what());
        return 1;
    }
}
